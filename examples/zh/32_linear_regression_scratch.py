# %% [markdown]
# # 3.2 线性回归的从零开始实现
#
# 配合《动手学深度学习》3.2 节。下面的代码就是书里的代码：生成数据集、读取小批量、
# 初始化参数、定义模型、定义损失函数、定义优化算法、训练。书里从 `d2l` 取用的函数
# （`d2l.synthetic_data`、`d2l.linreg`、`d2l.squared_loss`、`d2l.sgd`）由
# `from torchlinear import d2l` 提供，语义与书中一致，例如 `synthetic_data` 返回的标签形状是
# `(n, 1)`。
#
# 最后我们用 `torchlinear.plots.loss_contours` 画出损失函数的等高线，看看**学习率**和
# **批量大小**这两个超参数怎样改变每一步的走向；在 Jupyter 里装了 ipywidgets 时，可以拖动
# 滑块实时调整。

# %%
import math
import os
import random
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import torch

from torchlinear import d2l
from torchlinear.plots import loss_contours

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "32_linear_regression_scratch"
OUT.mkdir(parents=True, exist_ok=True)
d2l.set_figure_dir(OUT)
print("图保存在", OUT.resolve())
random.seed(0)
torch.manual_seed(0)

# %% [markdown]
# ## 生成数据集
#
# 1000 个样本，每个样本 2 个特征，服从标准正态分布；真实参数 `w = [2, −3.4]ᵀ`、`b = 4.2`，
# 标签 `y = Xw + b + ε`，噪声 `ε ~ N(0, 0.01²)`。

# %%
true_w = torch.tensor([2, -3.4])
true_b = 4.2
features, labels = d2l.synthetic_data(true_w, true_b, 1000)
print("features:", features[0], "\nlabel:", labels[0])
assert features.shape == (1000, 2) and labels.shape == (1000, 1)

d2l.set_figsize()
d2l.plt.scatter(features[:, (1)].detach().numpy(), labels.detach().numpy(), 1)
d2l.plt.xlabel("x2")
d2l.plt.ylabel("y")
d2l.plt.savefig(OUT / "scatter.png", dpi=100, bbox_inches="tight")  # 书里直接显示；脚本里存盘

# %% [markdown]
# ## 读取数据集
#
# `data_iter` 打乱样本的下标，每次取出 `batch_size` 个样本组成一个小批量。


# %%
def data_iter(batch_size, features, labels):
    num_examples = len(features)
    indices = list(range(num_examples))
    # 这些样本是随机读取的，没有特定的顺序
    random.shuffle(indices)
    for i in range(0, num_examples, batch_size):
        batch_indices = torch.tensor(indices[i : min(i + batch_size, num_examples)])
        yield features[batch_indices], labels[batch_indices]


batch_size = 10
for X, y in data_iter(batch_size, features, labels):
    print(X, "\n", y)
    break
assert X.shape == (10, 2) and y.shape == (10, 1)

# %% [markdown]
# ## 初始化模型参数、定义模型、损失函数和优化算法

# %%
w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)


def linreg(X, w, b):
    """线性回归模型"""
    return torch.matmul(X, w) + b


def squared_loss(y_hat, y):
    """均方损失"""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params, lr, batch_size):
    """小批量随机梯度下降"""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


# d2l 里的同名函数与这里逐字相同
assert torch.equal(linreg(X, w, b), d2l.linreg(X, w, b))
assert torch.equal(squared_loss(linreg(X, w, b), y), d2l.squared_loss(d2l.linreg(X, w, b), y))

# %% [markdown]
# ## 训练
#
# 每个**迭代周期**（epoch）遍历一遍整个训练集；每个小批量算一次损失、反向传播、更新一次参数。
# 学习率 `lr` 和迭代周期数 `num_epochs` 都是**超参数**。

# %%
lr = 0.03
num_epochs = 3
net = linreg
loss = squared_loss

epoch_losses = []
for epoch in range(num_epochs):
    for X, y in data_iter(batch_size, features, labels):
        l = loss(net(X, w, b), y)  # X 和 y 的小批量损失
        # l 的形状是 (batch_size, 1)，不是标量：把所有元素加起来，再求关于 [w, b] 的梯度
        l.sum().backward()
        sgd([w, b], lr, batch_size)  # 用参数的梯度更新参数
    with torch.no_grad():
        train_l = loss(net(features, w, b), labels)
        epoch_losses.append(float(train_l.mean()))
        print(f"epoch {epoch + 1}, loss {float(train_l.mean()):f}")

print(f"w 的估计误差: {true_w - w.reshape(true_w.shape)}")
print(f"b 的估计误差: {true_b - b}")
assert (true_w - w.reshape(true_w.shape)).abs().max() < 0.01 and abs(true_b - b.item()) < 0.01
# 损失降不到 0：噪声的方差是 0.01² = 1e-4，平方损失又带 1/2，所以最好也只能到 5e-5 左右。
# 这个下限就是解析解处的损失；三个迭代周期后，训练出的损失离它已经不到 1%。
A = torch.cat([features, torch.ones(1000, 1)], 1).double()
theta_star = torch.linalg.lstsq(A, labels.double()).solution
floor = float((((A @ theta_star - labels.double()) ** 2) / 2).mean())
print(f"解析解处的损失（下限）：{floor:.3e}")
assert epoch_losses[0] > epoch_losses[-1] and 3e-5 < floor < 7e-5
assert floor <= epoch_losses[-1] < 1.01 * floor

# %% [markdown]
# ## 学习率与批量大小：在损失曲面上看
#
# 把偏置固定在最优值，平方损失就是 `(w1, w2)` 平面上的一个“碗”。下图画出它的等高线，
# 以及从同一起点出发、用同一学习率各走 100 步的三条路径：全批量梯度下降，批量大小为 10 和
# 256 的小批量随机梯度下降。批量越小，每一步越“抖”；学习率越大，每一步迈得越远，
# 太大时会在碗壁之间来回跳，越跳越远。


# %%
def show_contours(lr=0.03, batch_size=10, steps=100):
    return loss_contours(features, labels, lr=lr, batch_sizes=(batch_size, 256), steps=steps)


try:
    import ipywidgets  # 可选：只在 Jupyter 里拖动滑块时需要
except ImportError:
    ipywidgets = None

if ipywidgets is not None and "ipykernel" in sys.modules:
    from IPython.display import display

    ipywidgets.interact(
        lambda lr, batch_size: display(show_contours(lr, batch_size)),
        lr=ipywidgets.FloatLogSlider(value=0.03, base=10, min=-3, max=0.5, step=0.1),
        batch_size=ipywidgets.IntSlider(value=10, min=1, max=256, step=1),
    )
else:
    # 没有 ipywidgets（或不在 Jupyter 里）时，画三张静态图：学习率偏小、合适、太大。
    # 太大的学习率只走 12 步：再多走几步，路径就飞出画面了。
    for name, rate, steps in (("small", 0.01, 100), ("good", 0.1, 100), ("too_large", 1.95, 12)):
        fig = show_contours(rate, 10, steps)
        fig.savefig(OUT / f"contours_lr_{name}.png", dpi=100, bbox_inches="tight")
        print("已保存", OUT / f"contours_lr_{name}.png")

# %% [markdown]
# 同一学习率下，全批量梯度下降的每一步都沿着最陡的下坡方向；学习率一旦超过
# `2/λ_max(XᵀX/n)`（这里约为 1.84），它必然发散，下面用阈值的 0.9 倍和 1.1 倍各走 300 步来验证。
# 批量为 10 时，每个小批量的曲率有大有小，步子时而被放大、时而被缩小，路径在阈值附近大起大落
# （第三张静态图里蓝色的路径），发散与否要看抽到了哪些小批量。这个阈值的来历见
# `examples/11_linear_systems.py` 第 5 部分。

# %%
from torchlinear.plots import descent_paths  # noqa: E402

H = features.T.double() @ features.double() / len(features)
threshold = 2 / torch.linalg.eigvalsh(H).max().item()
for factor, converges in ((0.9, True), (1.1, False)):
    path = descent_paths(features, labels, lr=factor * threshold, batch_sizes=(), steps=300)
    err = abs(path["full batch"][-1] - true_w.numpy()).max()
    print(f"lr = {factor} × 2/λ_max = {factor * threshold:.3f}: 300 步后误差 {err:.3g}")
    assert (err < 0.01) == converges

# %% [markdown]
# ## 损失变成 `nan`：怎样尽早发现
#
# 学习率太大时，损失不是一下子变成 `nan` 的：它先是一步比一步大（按几何级数增长），几十步后
# 在 float32 里上溢成 `inf`，接着 `inf − inf` 得到 `nan`。书里的训练循环每个迭代周期只打印
# 一次损失，等看到时已经只剩 `epoch 1, loss nan`，不知道是从哪一步开始坏的。
#
# 办法是在训练循环里看**每个小批量**的损失：它一旦不是有限数（`math.isfinite`），或者比第一步
# 大了很多倍（这里取 100 倍），就立刻停下，调小学习率，再从新的初始参数重新训练。下面用学习率
# 5（远大于上面的阈值 1.84）和正常的 0.03 各训练一个迭代周期，记下每一步的损失。


# %%
def step_losses(lr, num_steps=100):
    """书里的训练循环跑 num_steps 步（一个迭代周期），返回每个小批量的平均损失。"""
    random.seed(1)
    torch.manual_seed(1)
    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    losses = []
    for X, y in data_iter(batch_size, features, labels):
        l = loss(net(X, w, b), y)
        losses.append(l.mean().item())
        l.sum().backward()
        sgd([w, b], lr, batch_size)
        if len(losses) == num_steps:
            break
    return losses


def first_alarm(losses, factor=100.0):
    """第一个“不是有限数，或超过第一步的 factor 倍”的步数（从 1 数起）；没有就返回 None。"""
    for step, value in enumerate(losses, start=1):
        if not math.isfinite(value) or value > factor * losses[0]:
            return step
    return None


diverging, normal = step_losses(5.0), step_losses(0.03)
alarm = first_alarm(diverging)
first_inf = next(i for i, v in enumerate(diverging, start=1) if math.isinf(v))
first_nan = next(i for i, v in enumerate(diverging, start=1) if math.isnan(v))
print(f"学习率 5：第 1 步损失 {diverging[0]:.3g}，第 {alarm} 步 {diverging[alarm - 1]:.3g}"
      f"（超过 100 倍，报警），第 {first_inf} 步上溢成 inf，第 {first_nan} 步变成 nan")  # fmt: skip
print("学习率 0.03：", "从未报警" if first_alarm(normal) is None else "报警了")
assert alarm is not None and alarm < 10 < 3 * alarm < first_inf < first_nan <= 100  # 报警早得多
assert all(math.isnan(v) for v in diverging[first_nan:])  # 一旦 nan，就再也回不来
assert first_alarm(normal) is None and normal[-1] < normal[0] / 100  # 正常的学习率不误报

fig, ax = d2l.plt.subplots(figsize=(6, 3.2))
steps = range(1, 101)
ax.semilogy(steps, [v if math.isfinite(v) else float("nan") for v in diverging], "r-",
            label="lr = 5 (diverges)")  # fmt: skip
ax.semilogy(steps, normal, "g-", label="lr = 0.03")
ax.axvline(alarm, color="k", ls="--", lw=1, label=f"alarm: loss > 100 × first (step {alarm})")
ax.axvline(first_inf, color="r", ls=":", lw=1, label=f"first inf (step {first_inf})")
ax.axvline(first_nan, color="r", ls="-.", lw=1, label=f"first nan (step {first_nan})")
ax.set_xlabel("step (minibatch of 10)")
ax.set_ylabel("minibatch loss")
ax.set_title("watch every step, not only the end of the epoch")
ax.legend(fontsize=8)
fig.savefig(OUT / "nan_early.png", dpi=100, bbox_inches="tight")
print("已保存", OUT / "nan_early.png")

# %% [markdown]
# `torchlinear` 里的训练函数（`scratch.train`、简洁实现的训练函数和 `d2l.train_ch3`）在每个
# 迭代周期结束时做同样的检查，损失不是有限数或暴涨时发出警告，并写明所用的学习率，见
# `38_common_mistakes.py` 第 2 节。

# %% [markdown]
# ## 小结
#
# * 从零实现线性回归只要几样东西：生成数据、按小批量读取、模型 `Xw + b`、平方损失、小批量随机
#   梯度下降；梯度由自动微分求出。
# * 学习率和批量大小都是超参数。学习率超过 `2/λ_max` 时，全批量梯度下降必然发散；批量越小，
#   每一步越“抖”。
# * 训练时看每个小批量的损失：一旦暴涨或不是有限数就停下，比等到迭代周期结束才看到 `nan` 早得多。

# %% [markdown]
# ## 练习
#
# 本节的练习见
# [`32_linear_regression_scratch.py`](../exercises/32_linear_regression_scratch.py)。
# 每道题都有提示、解答和验证答案的代码；先自己想，再去看。练习的内容：
#
# * 权重初始化为零会怎样；
# * 学习率怎样影响损失的下降，多大时发散；
# * 样本数不能被批量大小整除时，`data_iter` 和 `sgd` 会怎样；
# * `squared_loss` 里为什么要 `reshape`；
# * 平方损失的 Hessian 与发散阈值 `2/λ_max`；
# * 用自动微分学出欧姆定律里的电阻；
# * 用普朗克定律，从光谱拟合物体的温度。
