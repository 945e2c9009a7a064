# %% [markdown]
# # 练习 3.5 图像分类数据集
#
# 《动手学深度学习》3.5 节的练习，每道题：**提示**、**解答**，再用代码验证。
#
# 1. 把 `batch_size` 减小（比如减到 1），会影响读取数据的速度吗？
# 2. 数据迭代器的速度很重要。现在的实现够快吗？有哪些办法可以改进？
# 3. 查阅框架的在线 API 文档，还有哪些数据集可以直接用？
#
# 没有 Fashion-MNIST 官方文件时，和 3.5 节的笔记本一样改用同格式的小替身数据。计时只读每种
# 设置的前 2000 个样本，在真实数据上也只要几秒。

# %%
import math
import os
import sys
import time
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from torchlinear import d2l, datasets
from torchlinear.data import iter_batches

# 替身数据的代码在 examples/zh/ 里，与 3.5–3.7 节的笔记本共用
sys.path.insert(0, str(Path.cwd().parent / "zh"))
if "__file__" in globals():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zh"))
from _fashion_standin import use_standin_if_missing  # noqa: E402

OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "35_image_classification_dataset"
OUT.mkdir(parents=True, exist_ok=True)
print("图保存在", OUT.resolve())  # 图里的文字用英文：默认字体没有中文字形
STANDIN = use_standin_if_missing()
torch.manual_seed(0)

# 这里比的是几种读法本身的快慢。一个小批量的拷贝很小，多线程帮不上忙，别的程序占着 CPU 时
# 反而让计时忽快忽慢，所以计时期间只用一个线程，结束后再改回来。
threads = torch.get_num_threads()
torch.set_num_threads(1)
N_TIMED = 2000


def samples_per_second(make_batches, repeats=5):
    """读前 N_TIMED 个样本，每秒读多少个；重复几次取最快的一次，减少机器负载的干扰。"""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        n = 0
        for _, y in make_batches():
            n += len(y)
            if n >= N_TIMED:
                break
        best = max(best, n / (time.perf_counter() - start))
    return best


# %% [markdown]
# ## 练习 1：批量大小与读取速度
#
# <details><summary>提示</summary>
#
# `DataLoader` 每取一个小批量要做哪些事？哪些事每个样本做一次，哪些事每个小批量做一次？
# </details>
#
# <details><summary>解答</summary>
#
# 会，而且影响很大。`DataLoader(TensorDataset(X, y))` 每个样本调用一次 `__getitem__`，每个小批量
# 还要走一遍取下标、`collate`（把取出的样本拼成张量）和 Python 循环本身。批量为 1 时，后面这些
# 固定开销由一个样本独自承担；批量为 256 时，256 个样本分摊。所以每秒读出的样本数随批量增大
# 而增加，批量为 1 时最慢。训练也是一样：批量越小，每个迭代周期的更新次数越多，每次更新的固定
# 开销也越多。
# </details>

# %%
batch_sizes = (1, 16, 256)
loaders = {bs: d2l.load_data_fashion_mnist(bs)[0] for bs in batch_sizes}
loader_speed = {bs: samples_per_second(lambda bs=bs: loaders[bs]) for bs in batch_sizes}
for bs, speed in loader_speed.items():
    print(f"DataLoader，批量大小 {bs:3}：每秒 {speed:10,.0f} 个样本")
# 空闲的机器上约 5 倍；机器繁忙时计时会打折扣，所以这里只断言 2 倍
assert loader_speed[256] > 2 * loader_speed[1]  # 批量为 1 时慢得多

# %% [markdown]
# ## 练习 2：更快的数据迭代器
#
# <details><summary>提示</summary>
#
# 图像已经全部读进内存，是一个 `(n, 1, 28, 28)` 的张量。3.2 节的 `data_iter` 是怎样取小批量的？
# </details>
#
# <details><summary>解答</summary>
#
# 不够快。数据已经是内存里的张量时，逐个样本取、再拼起来是多余的：每个迭代周期生成一个随机
# 排列，用一段下标一次取出整个小批量（`X[idx]` 或 `X.index_select(0, idx)`）就行，
# `torchlinear.data.iter_batches` 就是这样做的。批量越大，省下的越多。其他办法：
#
# * 用多个进程读（`num_workers > 0`）只在每个样本都要从磁盘读取或做变换（如图像增广）时
#   才划算；数据已在内存里时，进程间传递数据的开销比取数本身还大，所以 `d2l` 用 0 个进程；
# * 用 GPU 训练时，`pin_memory=True` 让数据从内存拷到显存更快；或者干脆把整个数据集一次搬到
#   显存里，再在显存里按下标取小批量；
# * `resize` 之类的变换在整个小批量上一次做，而不是一张图一张图地做（3.5 节的笔记本就是这样）。
# </details>

# %%
X_train, y_train = loaders[256].dataset.tensors
index_speed = {
    bs: samples_per_second(lambda bs=bs: iter_batches(X_train, y_train, bs)) for bs in batch_sizes
}
for bs in batch_sizes:
    ratio = index_speed[bs] / loader_speed[bs]
    speed = f"{index_speed[bs]:12,.0f}"
    print(f"批量大小 {bs:3}：按下标取每秒 {speed} 个样本，是 DataLoader 的 {ratio:.0f} 倍")
assert all(index_speed[bs] > loader_speed[bs] for bs in batch_sizes)
assert index_speed[256] > 5 * loader_speed[256]
# 取出的是同样的东西：一个迭代周期里每个样本恰好一次，小批量的形状和类型与 DataLoader 相同
X0, y0 = next(iter(loaders[256]))
X1, y1 = next(iter_batches(X_train, y_train, 256))
assert X1.shape == X0.shape and X1.dtype == X0.dtype and y1.dtype == y0.dtype
seen = torch.cat([i for i, _ in iter_batches(torch.arange(len(y_train)), None, 256)])
assert torch.equal(seen.sort().values, torch.arange(len(y_train)))
torch.set_num_threads(threads)  # 计时结束，恢复原来的线程数

fig, ax = plt.subplots(figsize=(6, 3.4))
positions = range(len(batch_sizes))
ax.bar([p - 0.2 for p in positions], [loader_speed[bs] for bs in batch_sizes], 0.4,
       label="DataLoader(TensorDataset(X, y), shuffle=True)")  # fmt: skip
ax.bar([p + 0.2 for p in positions], [index_speed[bs] for bs in batch_sizes], 0.4,
       label="iter_batches: index a random permutation")  # fmt: skip
ax.set_xticks(list(positions), [f"batch {bs}" for bs in batch_sizes])
ax.set_yscale("log")
ax.set_ylabel("samples per second")
data_name = "stand-in data" if STANDIN else "Fashion-MNIST"
ax.set_title(f"reading {N_TIMED} training images ({data_name}, 1 thread)")
ax.legend(fontsize=8, loc="upper left")
fig.savefig(OUT / "batch_size_reading_speed.png", dpi=100, bbox_inches="tight")
print("已保存", OUT / "batch_size_reading_speed.png")

# %% [markdown]
# ## 练习 3：还有哪些数据集
#
# <details><summary>提示</summary>
#
# 书里用的是 `torchvision.datasets.FashionMNIST`；同一个模块里还有什么？本包的
# `torchlinear.datasets` 又提供了哪些？
# </details>
#
# <details><summary>解答</summary>
#
# `torchvision.datasets` 收录了很多常用的数据集，例如手写数字 MNIST、EMNIST、KMNIST，彩色小图
# CIFAR-10 和 CIFAR-100，门牌号 SVHN，以及 ImageNet 等；文本和语音的数据集分别在
# `torchtext`、`torchaudio` 里。本包不依赖 torchvision，`torchlinear.datasets` 提供：`mnist`、
# `fashion_mnist`、`cifar10`（读官方文件，`download=True` 可下载），scikit-learn 自带的
# `digits`（8×8 手写数字，不用下载）和 `diabetes`（回归），以及 3.2 节的人造数据 `synthetic`。
# 图像数据集返回的张量和 `ToTensor` 的约定一样：`(n, 通道, 高, 宽)` 的 float32，取值在 [0, 1]。
# </details>

# %%
print("torchlinear.datasets 提供：", ", ".join(datasets.DATASETS))
assert {"mnist", "fashion-mnist", "cifar10", "digits"} <= set(datasets.DATASETS)
digits = datasets.load("digits")  # 不用下载
print("digits：训练集", tuple(digits.X_train.shape), "，测试集", tuple(digits.X_test.shape))
assert digits.X_train.shape[1:] == (1, 8, 8) and digits.X_train.dtype == torch.float32
assert 0 <= digits.X_train.min() and digits.X_train.max() <= 1
assert sorted(digits.y_train.unique().tolist()) == list(range(10))
assert math.isclose(
    len(digits.X_test) / (len(digits.X_train) + len(digits.X_test)), 0.25, abs_tol=0.01
)
# 同一个入口也能按名字读 Fashion-MNIST：与 d2l.load_data_fashion_mnist 读到的是同一份数据
fashion = datasets.load("fashion_mnist")
assert torch.equal(fashion.X_train, X_train) and torch.equal(fashion.y_train, y_train)
