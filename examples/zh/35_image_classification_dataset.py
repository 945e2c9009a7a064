# %% [markdown]
# # 3.5 图像分类数据集
#
# 配合《动手学深度学习》3.5 节。书里用 torchvision 下载 Fashion-MNIST；这里的
# `d2l.load_data_fashion_mnist(batch_size, resize=None)` 不依赖 torchvision，直接读官方的
# 四个 IDX 文件（放在 `$TORCHLINEAR_DATA/fashion-mnist/` 下，
# `torchlinear.datasets.fashion_mnist(download=True)` 可以下载）。返回的小批量与书中一致：
# 图像是 `(批量, 1, 28, 28)` 的 float32，取值在 [0, 1]；标签是 int64 的类别下标。
#
# 没有这些文件时，笔记本会说明并改用一个同格式的小替身数据集，好让代码照样跑通。
#
# 最后一个单元补充张量的基础：0 到 4 阶张量、图像的 HWC 与 CHW 布局、`ToTensor` 做了什么，
# 以及怎样把模型和数据放到同一个设备上。

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import numpy as np
import torch
from torch import nn

from torchlinear import d2l

sys.path.insert(0, str(Path.cwd()))
if "__file__" in globals():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fashion_standin import use_standin_if_missing  # noqa: E402

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "35_image_classification_dataset"
OUT.mkdir(parents=True, exist_ok=True)
d2l.set_figure_dir(OUT)
print("图保存在", OUT.resolve())
STANDIN = use_standin_if_missing()

# %% [markdown]
# ## 读取数据集
#
# Fashion-MNIST 有 10 个类别，训练集每类 6000 张、测试集每类 1000 张（替身数据更小）。

# %%
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)
X, y = next(iter(train_iter))
print(X.shape, X.dtype, y.shape, y.dtype)
assert X.shape[1:] == (1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64
assert 0 <= X.min() and X.max() <= 1
if not STANDIN:  # 真实数据：训练集 60000 张、测试集 10000 张，每个类别各占十分之一
    assert len(train_iter.dataset) == 60000 and len(test_iter.dataset) == 10000
    assert torch.bincount(train_iter.dataset.tensors[1]).tolist() == [6000] * 10
print("类别：", d2l.get_fashion_mnist_labels(range(10)))
d2l.show_images(X[:18].reshape(18, 28, 28), 2, 9, titles=d2l.get_fashion_mnist_labels(y[:18]))

# %% [markdown]
# ## 读取一遍训练数据要多久
#
# 数据已经在内存里，`d2l.get_dataloader_workers()` 返回 0（不开子进程）：子进程只会多出
# 进程间传递数据的开销。这时 `DataLoader` 真正的开销在于逐个样本地取、再拼成小批量；3.3 节的
# 笔记本把它和按下标一次取出整个小批量做了计时对比，本节的练习 1、2 再看批量大小的影响。

# %%
assert d2l.get_dataloader_workers() == 0
timer = d2l.Timer()
n_seen = 0
for _, y in train_iter:
    n_seen += len(y)
print(f"读取 {n_seen} 个样本用时 {timer.stop():.2f} 秒")
assert n_seen == len(train_iter.dataset)

# %% [markdown]
# ## `resize`：把图像缩放成 64×64
#
# 书中用 `transforms.Resize`；这里对每个小批量用 `torch.nn.functional.interpolate`
# （双线性、抗锯齿）缩放，只在取小批量时才算，不占额外内存。

# %%
train_iter, test_iter = d2l.load_data_fashion_mnist(32, resize=64)
for X, y in train_iter:
    print(X.shape, X.dtype, y.shape, y.dtype)
    break
assert X.shape == (32, 1, 64, 64)

# %% [markdown]
# ## 张量基础：阶、布局与设备
#
# * **阶**（维数）：标量是 0 阶，向量 1 阶，矩阵 2 阶；一张彩色图是 3 阶（通道、高、宽），
#   一个小批量的图像是 4 阶 `(批量, 通道, 高, 宽)`。
# * **HWC 与 CHW**：图像文件和 PIL、NumPy 通常按 `(高, 宽, 通道)` 存放，取值是 0–255 的
#   `uint8`；PyTorch 的卷积和 `nn.Flatten` 约定 `(通道, 高, 宽)`。torchvision 的
#   `ToTensor` 做两件事：把 HWC 换成 CHW，并除以 255 变成 [0, 1] 的 float32。
# * **设备**：模型参数和数据必须在同一个设备上，`.to(device)` 把它们搬过去。

# %%
for rank, t in enumerate([torch.tensor(3.0), torch.arange(4.0), torch.zeros(2, 3),
                          torch.zeros(3, 28, 28), torch.zeros(256, 1, 28, 28)]):  # fmt: skip
    print(f"{rank} 阶：形状 {tuple(t.shape)}")
    assert t.ndim == rank

hwc = np.random.default_rng(0).integers(0, 256, size=(28, 20, 3), dtype=np.uint8)  # 高 28 宽 20
chw = torch.from_numpy(hwc).permute(2, 0, 1).float() / 255  # 与 ToTensor 相同的两步
print("HWC", hwc.shape, hwc.dtype, "→ CHW", tuple(chw.shape), chw.dtype)
assert chw.shape == (3, 28, 20) and chw.max() <= 1
assert chw[1, 5, 7] == hwc[5, 7, 1] / 255  # 同一个像素、同一个通道
# 常见错误：用 reshape 代替 permute —— 形状对了，像素却全乱了
assert not torch.equal(torch.from_numpy(hwc).reshape(3, 28, 20).float() / 255, chw)

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).to(device)
X = torch.rand(32, 1, 28, 28).to(device)  # 数据也搬到同一个设备
print("模型在", next(net.parameters()).device, "，数据在", X.device)
assert net(X).shape == (32, 10)

# %% [markdown]
# ## 小结
#
# * Fashion-MNIST 有 10 个类别，每张图是 28×28 的灰度图；`d2l.load_data_fashion_mnist` 返回的
#   小批量是 `(批量, 1, 28, 28)` 的 float32，取值在 [0, 1]，标签是类别下标。
# * PyTorch 按 `(通道, 高, 宽)` 存放图像；从 HWC 转过来要用 `permute`，不能用 `reshape`。
# * 模型和数据必须在同一个设备上。

# %% [markdown]
# ## 练习
#
# 本节的练习见
# [`35_image_classification_dataset.py`](../exercises/35_image_classification_dataset.py)。
# 每道题都有提示、解答和验证答案的代码；先自己想，再去看。练习的内容：
#
# * 批量大小对读取速度的影响（当场计时）；
# * 怎样让数据迭代器更快；
# * 还有哪些数据集可以直接用。
