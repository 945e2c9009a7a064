"""没有 Fashion-MNIST 官方文件时用的替身数据：同样的 IDX 格式、同样的 28×28 灰度图和 10 个类别。

每个类别是一张固定的随机“花纹”，每张图是花纹加噪声，所以线性模型能学会它；它只用来让
笔记本在没有下载数据的机器上也能从头跑到尾，数字和真实数据集上的不一样。
"""

import gzip
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np


def write_standin(n_train=2000, n_test=500, seed=0):
    """把替身数据写进临时文件夹并返回它（可直接传给 ``root=``）。

    同样的参数只写一次：3.5–3.7 节的笔记本共用同一份文件。先写进一个新文件夹，写完再一次性
    改名，所以别的进程要么看到完整的文件，要么看不到。
    """
    root = Path(tempfile.gettempdir()) / f"torchlinear-fashion-standin-{n_train}-{n_test}-{seed}"
    if (root / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").exists():
        return root
    staging = Path(tempfile.mkdtemp(prefix="fashion-standin-"))
    folder = staging / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(seed)
    patterns = rng.random((10, 28, 28))
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = (0.6 * patterns[labels] + 0.4 * rng.random((n, 28, 28))) * 255
        with gzip.open(folder / f"{split}-images-idx3-ubyte.gz", "wb") as fh:
            fh.write(struct.pack(">IIII", 0x803, n, 28, 28) + images.astype(np.uint8).tobytes())
        with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz", "wb") as fh:
            fh.write(struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes())
    try:
        os.rename(staging, root)
    except OSError:  # 另一个进程刚刚写好了同样的数据：用它的，丢掉自己的
        shutil.rmtree(staging, ignore_errors=True)
    return root


def use_standin_if_missing():
    """官方文件在就什么也不做；不在就写替身数据，让 ``$TORCHLINEAR_DATA`` 指向它，并说明。

    这样书里的 ``d2l.load_data_fashion_mnist(batch_size)`` 一个字都不用改。返回是否用了替身。
    """
    from torchlinear import d2l

    try:
        d2l.load_data_fashion_mnist(1)
        return False
    except FileNotFoundError as error:
        print("没有找到 Fashion-MNIST 的官方文件：", str(error).splitlines()[0][:120])
        print("下面改用同格式的小替身数据（类别花纹加噪声），数字与真实数据集不同。")
        os.environ["TORCHLINEAR_DATA"] = str(write_standin())
        return True
