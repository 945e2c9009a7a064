# %% [markdown]
# # 3.3 线性回归的简洁实现
#
# 配合《动手学深度学习》3.3 节：用 PyTorch 的高级 API 重写上一节。`d2l.load_array` 把张量
# 包装成 `DataLoader`；`nn.Linear` 是全连接层；`nn.MSELoss` 是均方误差；`torch.optim.SGD`
# 实现小批量随机梯度下降。然后用解析解检查训练出的参数，并说明 `nn.MSELoss` 与上一节
# 平方损失之间的差别（少了 1/2），并让从零实现与简洁实现一步不差地走出同一条路径、停在
# 解析解附近。最后两部分回答初学者常问的两个问题：数据已经在内存里时 `DataLoader` 为什么慢；
# 随机梯度下降的结果为什么和解析解对不上。

# %%
import os
import sys
import warnings
from pathlib import Path
from statistics import median

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import numpy as np
import torch
from torch import nn

from torchlinear import d2l
from torchlinear.data import iter_batches

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "33_linear_regression_concise"
OUT.mkdir(parents=True, exist_ok=True)
d2l.set_figure_dir(OUT)
print("图保存在", OUT.resolve())
torch.manual_seed(0)

# %% [markdown]
# ## 生成数据集、读取数据集

# %%
true_w = torch.tensor([2, -3.4])
true_b = 4.2
features, labels = d2l.synthetic_data(true_w, true_b, 1000)

batch_size = 10
data_iter = d2l.load_array((features, labels), batch_size)
print(next(iter(data_iter)))

# %% [markdown]
# ## 定义模型、初始化参数、损失函数和优化算法
#
# `nn.Sequential` 把层串起来；这里只有一层 `nn.Linear(2, 1)`。`net[0]` 取出这一层，用
# `normal_` 和 `fill_` 把权重初始化为 `N(0, 0.01²)`、偏置初始化为 0。

# %%
net = nn.Sequential(nn.Linear(2, 1))
net[0].weight.data.normal_(0, 0.01)
net[0].bias.data.fill_(0)
loss = nn.MSELoss()
trainer = torch.optim.SGD(net.parameters(), lr=0.03)

# %% [markdown]
# ## 训练

# %%
num_epochs = 3
history = []
for epoch in range(num_epochs):
    for X, y in data_iter:
        l = loss(net(X), y)
        trainer.zero_grad()
        l.backward()
        trainer.step()
    l = loss(net(features), labels)
    history.append(l.item())
    print(f"epoch {epoch + 1}, loss {l:f}")

# 每个迭代周期结束时的训练损失（对数坐标）
d2l.plot(list(range(1, num_epochs + 1)), history, xlabel="epoch", ylabel="loss", yscale="log")

w = net[0].weight.data
print("w 的估计误差：", true_w - w.reshape(true_w.shape))
b = net[0].bias.data
print("b 的估计误差：", true_b - b)

# 与解析解（最小二乘）比较：差在小数点后第三、四位，原因见本节最后一部分
A = np.hstack([features.double().numpy(), np.ones((1000, 1))])
exact = np.linalg.lstsq(A, labels.double().numpy().ravel(), rcond=None)[0]
print("解析解：", np.round(exact, 4))
assert np.allclose(w.numpy().ravel(), exact[:2], atol=2e-3) and abs(b.item() - exact[2]) < 2e-3

# %% [markdown]
# ## `nn.MSELoss` 没有 1/2
#
# 上一节的平方损失是 `½(ŷ − y)²`，`nn.MSELoss` 算的是 `(ŷ − y)²` 的平均，梯度大一倍。
# 所以同样的学习率 0.03，这一节实际迈出的步子是上一节的两倍（上一节对 `l.sum()` 求导后
# 在 `sgd` 里除以批量大小，同样是平均）。下面验证：两者的梯度恰好差 2 倍。

# %%
X, y = next(iter(d2l.load_array((features, labels), batch_size, is_train=False)))
net_w = nn.Linear(2, 1)
loss(net_w(X), y).backward()
grad_mse = net_w.weight.grad.clone()
net_w.weight.grad = None
(d2l.squared_loss(net_w(X), y).sum() / batch_size).backward()
grad_half = net_w.weight.grad.clone()
print("MSELoss 的梯度：", grad_mse, "\n½ 平方损失的梯度：", grad_half)
assert torch.allclose(grad_mse, 2 * grad_half)

# %% [markdown]
# `nn.MSELoss` 还有一个约定：预测和标签的形状必须相同。把形状为 `(n,)` 的标签和 `(n, 1)` 的
# 预测一起传进去，它只发出一条 `UserWarning`，然后照样广播成 `(n, n)` 再求平均：损失完全
# 错了，训练却不会停下。自己写的损失函数连这条警告都没有（见 `38_common_mistakes.py` 第 1 节）。
# 在笔记本里看到这条警告，就去检查标签的形状。

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    wrong = loss(net(features), labels.reshape(-1))  # 标签被压成了 (1000,)
right = loss(net(features), labels)  # 标签是 (1000, 1)，与预测相同
print(f"标签为 (n,) 时的损失 {wrong.item():.3f}，为 (n, 1) 时 {right.item():.2e}")
print("警告：", caught[0].message)
assert wrong > 1000 * right and "broadcasting" in str(caught[0].message)

# %% [markdown]
# ## 从零实现、简洁实现与解析解：三者一致
#
# 既然梯度恰好差 2 倍，就可以让两种实现**逐步相同**：从同一组初始参数出发、按同一个顺序
# 读取小批量，上一节的从零实现（`½` 平方损失、学习率 0.03）和本节的简洁实现（`nn.MSELoss`、
# 学习率 0.015）每走一步，参数都应相同（只差 float32 的舍入误差）。两者最后都停在解析解
# `θ* = (w1, w2, b)` 附近。下图左边是两者在 `(w1, w2)` 平面上走过的路径（从原点附近出发），
# 右边是每一步与解析解的最大差距：两条曲线完全重合。

# %%
torch.manual_seed(2)
w_s = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)  # 从零实现：3.2 节的参数
b_s = torch.zeros(1, requires_grad=True)
net_c = nn.Sequential(nn.Linear(2, 1))  # 简洁实现：复制同样的初始值
net_c[0].weight.data.copy_(w_s.detach().T)
net_c[0].bias.data.fill_(0)
trainer_c = torch.optim.SGD(net_c.parameters(), lr=0.03 / 2)
order = torch.Generator().manual_seed(0)  # 两者共用同一个小批量顺序
start = torch.cat([w_s.detach().reshape(-1), b_s.detach()])
path_s, path_c = [start], [start.clone()]
for _ in range(num_epochs):
    for X, y in iter_batches(features, labels, batch_size, generator=order):
        d2l.squared_loss(d2l.linreg(X, w_s, b_s), y).sum().backward()
        d2l.sgd([w_s, b_s], 0.03, batch_size)
        l = loss(net_c(X), y)
        trainer_c.zero_grad()
        l.backward()
        trainer_c.step()
        path_s.append(torch.cat([w_s.detach().reshape(-1), b_s.detach()]))
        path_c.append(torch.cat([net_c[0].weight.data.reshape(-1), net_c[0].bias.data]))
path_s, path_c = torch.stack(path_s).double(), torch.stack(path_c).double()
theta_star = torch.tensor(exact)  # 前面 np.linalg.lstsq 求出的解析解
gap_s = (path_s - theta_star).abs().max(dim=1).values
gap_c = (path_c - theta_star).abs().max(dim=1).values
print(f"{len(path_s) - 1} 步里两种实现参数的最大差别：{(path_s - path_c).abs().max():.1e}")
print("最后一步：从零实现", path_s[-1].numpy().round(4), "简洁实现", path_c[-1].numpy().round(4))
print("          解析解  ", theta_star.numpy().round(4))
assert torch.allclose(path_s, path_c, atol=1e-5)  # 逐步相同
assert gap_s[0] > 1 and gap_s[-1] < 2e-3 and gap_c[-1] < 2e-3  # 从远处出发，停在解析解附近

fig, (ax0, ax1) = d2l.plt.subplots(1, 2, figsize=(9, 3.4))
ax0.plot(path_s[:, 0], path_s[:, 1], "-", color="tab:blue", lw=4, alpha=0.4,
         label="from scratch (½ squared loss, lr 0.03)")  # fmt: skip
ax0.plot(path_c[:, 0], path_c[:, 1], "o", color="tab:orange", ms=3,
         label="concise (nn.MSELoss, lr 0.015)")  # fmt: skip
ax0.plot(*theta_star[:2], "k*", ms=14, label="exact (least squares)")
ax0.set_xlabel("w1")
ax0.set_ylabel("w2")
ax0.set_title(f"paths of {len(path_s) - 1} steps in the (w1, w2) plane")
ax0.legend(fontsize=8, loc="upper right")
steps = range(len(gap_s))
ax1.semilogy(steps, gap_s, "-", color="tab:blue", lw=4, alpha=0.4, label="from scratch")
ax1.semilogy(steps, gap_c, "-", color="tab:orange", lw=1, label="concise")
ax1.set_xlabel(f"step (minibatch of {batch_size}; {len(features) // batch_size} per epoch)")
ax1.set_ylabel("max |θ − θ*|")
ax1.set_title("distance to the exact solution")
ax1.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "scratch_concise_exact.png", dpi=100)
print("已保存", OUT / "scratch_concise_exact.png")

# %% [markdown]
# ## 数据已经在内存里时，`DataLoader` 慢在哪里
#
# `d2l.load_array` 返回的 `DataLoader` 每取一个小批量，都要对其中每个样本调用一次
# `TensorDataset.__getitem__`，再把取出的单个样本拼接成小批量：批量大小为 10 时，每读一个
# 样本就要走一遍 Python 代码。数据既然已经是内存里的张量，就可以像上一节的 `data_iter`
# 那样，每个迭代周期生成一个随机排列，再用一段下标一次取出整个小批量
# （`features[indices]`）。`torchlinear.data.iter_batches` 就是这样做的。下面在 10 万个样本上
# 各读一个迭代周期，只读数据、不训练：

# %%
n_big = 10_000 if FAST else 100_000
X_big, y_big = torch.randn(n_big, 2), torch.randn(n_big, 1)
timer = d2l.Timer()
n_loader = sum(len(y) for _, y in d2l.load_array((X_big, y_big), batch_size))
t_loader = timer.stop()
timer.start()
n_index = sum(len(y) for _, y in iter_batches(X_big, y_big, batch_size))
t_index = timer.stop()
print(f"批量大小 {batch_size}，{n_big} 个样本：DataLoader {t_loader:.3f} 秒，"
      f"按随机排列取下标 {t_index:.3f} 秒，后者快 {t_loader / t_index:.0f} 倍")  # fmt: skip
assert n_loader == n_index == n_big and t_index < t_loader
# 两种方式取出的是同样的东西：每个样本每个迭代周期恰好一次，顺序随机
rows = torch.cat([X for X, _ in iter_batches(X_big[:1000], y_big[:1000], batch_size)])
assert torch.equal(rows.sort(dim=0).values, X_big[:1000].sort(dim=0).values)

# %% [markdown]
# 差距有多大取决于机器和批量大小：README 的基准测试在 100 万个样本上，批量大小为 10 时约快
# 10 倍，为 256 时快 38–54 倍（批量越大，按下标取数的分摊成本越低，`DataLoader` 却仍要逐个
# 样本处理）。数据在磁盘上、要逐个样本做变换（比如图像增广）或要多进程读取时，`DataLoader`
# 仍是合适的工具；数据已经是内存里的张量时，直接按下标取就够了。
#
# ## 随机梯度下降的结果为什么和解析解对不上
#
# 前面训练出的参数与解析解差在小数点后第三、四位。这不是程序写错了，常见的原因有三种，
# 下面逐一用数字说明。为了跑得快，训练循环用 `iter_batches` 取小批量，其余与上文相同；
# 每个迭代周期结束时记下参数 `θ = (w1, w2, b)` 与解析解 `θ*` 的最大差距。


# %%
def solve(features, labels, lam=0.0):
    """(AᵀA/n + λI)θ = Aᵀy/n 的解，A = [X, 1]；λ = 0 时就是最小二乘的解析解。"""
    A = torch.cat([features, torch.ones(len(features), 1)], 1).double()
    n, d = A.shape
    lhs = A.T @ A / n + lam * torch.eye(d, dtype=torch.float64)
    return torch.linalg.solve(lhs, A.T @ labels.double().reshape(-1) / n)


def fit(features, labels, lr, num_epochs, batch_size=10, weight_decay=0.0, target=None):
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(features.shape[1], 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=weight_decay)
    gaps = []
    for _ in range(num_epochs):
        for X, y in iter_batches(features, labels, batch_size):
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        theta = torch.cat([net[0].weight.data.reshape(-1), net[0].bias.data]).double()
        if target is not None:
            gaps.append((theta - target).abs().max().item())
    return theta, gaps


# %% [markdown]
# ### 1. 没有收敛，或者学习率限定了能走多近
#
# 小批量的梯度只是全部样本梯度的一个带噪声的估计，到了解析解处它也不为零。学习率固定时，
# 参数最后会在解析解附近来回跳动，迭代周期再多也不会更近；学习率越小，跳得越小，但走到
# 解析解附近要花的迭代周期越多。全批量梯度下降（每步用全部 1000 个样本）在解析解处梯度恰好
# 为零，会一直逼近下去，直到 float32 的舍入误差。

# %%
exact = solve(features, labels)
num_epochs = 20
curves = {
    "minibatch SGD, batch 10, lr 0.03": fit(features, labels, 0.03, num_epochs, target=exact)[1],
    "minibatch SGD, batch 10, lr 0.01": fit(features, labels, 0.01, num_epochs, target=exact)[1],
    "full-batch GD, lr 0.3": fit(features, labels, 0.3, num_epochs, 1000, target=exact)[1],
}
for name, gaps in curves.items():
    print(f"{name:33}", " ".join(f"{g:.0e}" for g in gaps))
d2l.plot(list(range(1, num_epochs + 1)), list(curves.values()), xlabel="epoch",
         ylabel="max |θ − θ*|", yscale="log", legend=list(curves), figsize=(5, 3))  # fmt: skip
fast_sgd, slow_sgd, full_batch = curves.values()
assert slow_sgd[0] > 0.1  # 学习率 0.01 只训练一个迭代周期：还远没有收敛
assert min(fast_sgd[num_epochs // 2 :]) > 1e-5  # 学习率固定的 SGD 停在解析解附近跳动
assert median(slow_sgd[num_epochs // 2 :]) < median(fast_sgd[num_epochs // 2 :])  # 学习率小，跳得小
assert full_batch[-1] < 1e-5  # 全批量梯度下降：一直逼近，直到 float32 的舍入误差

# %% [markdown]
# ### 2. 加了正则化
#
# `torch.optim.SGD(..., weight_decay=λ)` 每一步都把参数往 0 拉一点，它最小化的是
# `MSE + (λ/2)‖θ‖²`，而且 PyTorch 对所有参数（包括偏置）都这样做。收敛到的是这个目标的解，
# 即岭回归的解析解 `(AᵀA/n + (λ/2)I)θ = Aᵀy/n`，而不是最小二乘的解。要检查训练结果，就得和
# **同一个**目标的解析解比。

# %%
theta_decay, _ = fit(features, labels, 0.3, 50, 1000, weight_decay=0.1)
ridge = solve(features, labels, lam=0.1 / 2)
print("weight_decay=0.1 训练出的 θ：", theta_decay.numpy().round(4))
print("岭回归的解析解：            ", ridge.numpy().round(4))
print("最小二乘的解析解：          ", exact.numpy().round(4))
assert (theta_decay - ridge).abs().max() < 1e-5 and (theta_decay - exact).abs().max() > 0.1

# %% [markdown]
# ### 3. 特征的尺度相差悬殊（没有标准化）
#
# 把第二个特征乘以 100（比如把长度单位从米换成厘米），解析解只是 `w2` 缩小 100 倍，
# 梯度下降却难了很多：`AᵀA/n` 原来的特征值都在 1 附近，现在有一个约为 1e4。学习率必须小于
# `1/λ_max ≈ 1e-4` 才不发散（`nn.MSELoss` 没有 1/2，阈值是 3.2 节 `2/λ_max` 的一半），
# 可这么小的学习率在其他方向上几乎走不动。先把每个特征**标准化**为均值 0、标准差 1，就能用
# 正常的学习率训练；训练完再换算回原来的尺度：`w_j = w'_j / σ_j`，`b = b' − Σ_j w_j μ_j`。

# %%
features_cm = features * torch.tensor([1.0, 100.0])
exact_cm = solve(features_cm, labels)
A = torch.cat([features_cm, torch.ones(1000, 1)], 1).double()
lam_max = torch.linalg.eigvalsh(A.T @ A / 1000).max().item()
print(f"λ_max = {lam_max:.0f}，学习率的上限 1/λ_max = {1 / lam_max:.1e}")
theta_big_lr, _ = fit(features_cm, labels, 0.03, 1)
theta_slow, _ = fit(features_cm, labels, 0.9 / lam_max, 300, 1000)
mu, sigma = features_cm.mean(0), features_cm.std(0)
theta_std, _ = fit((features_cm - mu) / sigma, labels, 0.3, 50, 1000)
w = theta_std[:2] / sigma.double()
theta_back = torch.cat([w, theta_std[2:] - (w * mu.double()).sum()])
print("学习率 0.03：                       ", theta_big_lr.numpy())
print("学习率 0.9/λ_max，300 步：          ", theta_slow.numpy().round(4))
print("标准化后训练 50 步，再换算回原尺度：", theta_back.numpy().round(4))
print("解析解：                            ", exact_cm.numpy().round(4))
assert not torch.isfinite(theta_big_lr).all()  # 学习率按原来的习惯取：发散
assert (theta_slow - exact_cm).abs().max() > 1.0  # 不发散的学习率：300 步后还差得远
assert torch.allclose(theta_back, exact_cm, rtol=1e-4, atol=1e-5)

# %% [markdown]
# ## 小结
#
# * `DataLoader`、`nn.Linear`、`nn.MSELoss`、`torch.optim.SGD` 分别替代了上一节手写的
#   `data_iter`、`linreg`、`squared_loss`、`sgd`，训练循环的结构不变。
# * 高级 API 省事，但要清楚它们的约定：`MSELoss` 没有 1/2，默认对小批量求平均；预测和标签
#   形状不同时它只给警告。学习率减半，简洁实现与从零实现每一步都相同。
# * 数据已经在内存里时，按随机排列的下标取小批量比 `DataLoader` 快得多。
# * 随机梯度下降的结果和解析解对不上时，先看三件事：是否收敛、学习率多大（固定学习率的
#   小批量 SGD 只能走到解析解附近）；是否加了正则化（那就和正则化目标的解析解比）；特征是否
#   需要标准化。

# %% [markdown]
# ## 练习
#
# 本节的练习见
# [`33_linear_regression_concise.py`](../exercises/33_linear_regression_concise.py)。
# 每道题都有提示、解答和验证答案的代码；先自己想，再去看。练习的内容：
#
# * 把总损失换成平均损失时，学习率要怎样改；
# * Huber 损失及其导数；
# * 怎样访问线性层参数的梯度。
