# %% [markdown]
# # 练习 3.2 线性回归的从零开始实现
#
# 《动手学深度学习》3.2 节的练习。书里的函数（`d2l.synthetic_data`、`d2l.linreg`、
# `d2l.squared_loss`、`d2l.sgd`）由 `from torchlinear import d2l` 提供。每道题：**提示**、
# **解答**，再用代码验证。
#
# 1. 如果将权重初始化为零，会发生什么？算法仍然有效吗？
# 2. 学习率取不同的值，损失函数下降得快还是慢？多大时会发散？
# 3. 样本个数不能被批量大小整除时，`data_iter` 和 `sgd` 会怎样？
# 4. 为什么 `squared_loss` 里需要 `reshape`？
# 5. 平方损失的二阶导数（Hessian）是什么？它和第 2 题的发散阈值有什么关系？
# 6. 电压和电流的关系（欧姆定律）：能用自动微分学出电阻吗？
# 7. 能用普朗克定律，从光谱能量密度确定物体的温度吗？

# %%
import math
import os
import random
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from torchlinear import d2l

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "32_linear_regression_scratch"
OUT.mkdir(parents=True, exist_ok=True)
print("图保存在", OUT.resolve())  # 图里的文字用英文：默认字体没有中文字形
random.seed(0)
torch.manual_seed(0)

true_w, true_b = torch.tensor([2, -3.4]), 4.2
features, labels = d2l.synthetic_data(true_w, true_b, 1000)


def data_iter(batch_size, features, labels):  # 书里的 data_iter，一字未改
    num_examples = len(features)
    indices = list(range(num_examples))
    random.shuffle(indices)
    for i in range(0, num_examples, batch_size):
        batch_indices = torch.tensor(indices[i : min(i + batch_size, num_examples)])
        yield features[batch_indices], labels[batch_indices]


def train(w, b, lr=0.03, batch_size=10, num_epochs=3):
    """书里的训练循环；返回每个迭代周期结束时整个训练集上的平均损失。"""
    losses = []
    for _ in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = d2l.squared_loss(d2l.linreg(X, w, b), y)
            l.sum().backward()
            d2l.sgd([w, b], lr, batch_size)
        with torch.no_grad():
            losses.append(d2l.squared_loss(d2l.linreg(features, w, b), labels).mean().item())
    return losses


# %% [markdown]
# ## 练习 1：权重初始化为零
#
# <details><summary>提示</summary>
#
# 看第一步的梯度：`∂l/∂w = Xᵀ(Xw + b − y)/B`。在 `w = 0, b = 0` 时它是多少？再想想损失
# 函数的形状：线性回归的平方损失是凸的。
# </details>
#
# <details><summary>解答</summary>
#
# 仍然有效。`w = 0` 时梯度是 `−Xᵀy/B`，一般不为零，第一步就离开原点；平方损失是凸的，
# 只有一个最小点，从哪里出发都走到同一个解。书里用 `N(0, 0.01²)` 初始化，是为了以后的
# **多层**网络：隐藏层的权重全为零时，所有隐藏单元算出同样的值、得到同样的梯度，永远一样
# （对称性无法打破）；如果输出层也为零，隐藏层的梯度恰好为零，根本不动。下面两种情形都算一遍。
# </details>

# %%
w0, b0 = torch.zeros((2, 1), requires_grad=True), torch.zeros(1, requires_grad=True)
w1 = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
b1 = torch.zeros(1, requires_grad=True)
loss_zero, loss_random = train(w0, b0), train(w1, b1)
print("从零开始：    ", [f"{v:.2e}" for v in loss_zero], w0.detach().flatten().numpy())
print("从随机值开始：", [f"{v:.2e}" for v in loss_random], w1.detach().flatten().numpy())
exact = torch.linalg.lstsq(torch.cat([features, torch.ones(1000, 1)], 1).double(), labels.double())
exact = exact.solution.flatten().float()
assert torch.allclose(w0.detach().flatten(), exact[:2], atol=2e-3)
assert torch.allclose(w1.detach().flatten(), exact[:2], atol=2e-3)
assert loss_zero[-1] < 1e-4

# 两层网络 tanh(X W1ᵀ) W2ᵀ：全零初始化时 W1 的梯度恰好为零，W1 一直是零
W1 = torch.zeros(4, 2, requires_grad=True)
W2 = torch.zeros(1, 4, requires_grad=True)
for _ in range(20):
    loss = ((torch.tanh(features @ W1.T) @ W2.T - labels) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        for p in (W1, W2):
            p -= 0.1 * p.grad
            p.grad.zero_()
assert torch.count_nonzero(W1) == 0, "全零初始化：隐藏层一步也没动"
# 只让隐藏层为零、输出层相同：四个隐藏单元收到相同的梯度，训练后仍然一模一样
W1 = torch.zeros(4, 2, requires_grad=True)
W2 = torch.full((1, 4), 0.5, requires_grad=True)
for _ in range(20):
    loss = ((torch.tanh(features @ W1.T) @ W2.T - labels) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        for p in (W1, W2):
            p -= 0.1 * p.grad
            p.grad.zero_()
print("隐藏层权重（四行相同）：\n", W1.detach())
assert W1.abs().sum() > 0 and torch.allclose(W1, W1[:1].expand(4, 2))

# %% [markdown]
# ## 练习 2：学习率对损失函数的影响
#
# <details><summary>提示</summary>
#
# 全批量梯度下降时，误差 `e = w − w*` 每步乘以 `I − η·H`，其中 `H = XᵀX/n`（带上偏置那一列
# 1）。什么时候这个矩阵的每个特征值的绝对值都小于 1？
# </details>
#
# <details><summary>解答</summary>
#
# `H` 的特征值 `λ_i > 0`，`I − ηH` 的特征值是 `1 − ηλ_i`。它们的绝对值都小于 1，当且仅当
# `0 < η < 2/λ_max`。`η` 很小时 `1 − ηλ` 接近 1，损失下降得很慢；`η = 2/(λ_min + λ_max)` 时最快；
# 超过 `2/λ_max`，误差在最陡的方向上每步放大 `|1 − ηλ_max| > 1` 倍，损失指数增长，直到
# `inf`、`nan`。小批量随机梯度下降里每个小批量的 `H_B` 不同，它会在略小的学习率上就开始
# 发散。学习率是**超参数**：不是训练出来的，要我们自己选。
# </details>

# %%
A = torch.cat([features, torch.ones(1000, 1)], 1).double()
yd = labels.double().flatten()
H = A.T @ A / len(A)
threshold = 2 / torch.linalg.eigvalsh(H).max().item()
print(f"2/λ_max = {threshold:.4f}")


def full_batch_gd(lr, steps):
    theta, losses = torch.zeros(3, dtype=torch.float64), []
    for _ in range(steps):
        r = A @ theta - yd
        losses.append(0.5 * (r**2).mean().item())
        theta = theta - lr * A.T @ r / len(A)
    return losses


steps = 60 if FAST else 200
runs = {lr: full_batch_gd(lr, steps) for lr in (0.01, 0.3, 0.95 * threshold, 1.05 * threshold)}
for lr, losses in runs.items():
    print(f"学习率 {lr:.3f}：损失 {losses[0]:.3g} → {losses[-1]:.3g}")
slow, good, below, above = runs.values()
assert slow[-1] > 1000 * good[-1] and good[-1] < 1e-4, "学习率太小时下降得慢"
assert below[-1] < below[0] and above[-1] > 10 * above[0], "阈值两侧：收敛与发散"

fig, ax = plt.subplots(figsize=(7, 4))
names = ["too small", "good", "0.95·2/λmax", "1.05·2/λmax"]
for (lr, losses), name in zip(runs.items(), names, strict=True):
    ax.semilogy(losses, label=f"lr = {lr:.3f} ({name})")
ax.set_xlabel("iteration (full-batch gradient descent)")
ax.set_ylabel("squared loss")
ax.set_title(f"learning rate vs loss; divergence above 2/λmax = {threshold:.3f}")
ax.legend(fontsize=8)
fig.savefig(OUT / "learning_rate.png", dpi=100, bbox_inches="tight")
print("已保存", OUT / "learning_rate.png")

# %% [markdown]
# ## 练习 3：样本个数不能被批量大小整除
#
# <details><summary>提示</summary>
#
# `range(0, num_examples, batch_size)` 的最后一段有多长？`d2l.sgd` 除以的是哪个数？
# </details>
#
# <details><summary>解答</summary>
#
# `data_iter` 的最后一个小批量只有 `n mod batch_size` 个样本，照样返回，每个样本每个迭代周期
# 恰好用一次。但书里的 `sgd` 除以固定的 `batch_size`，不是这个小批量的真实大小，所以最后一步
# 走得短了：步长是“平均梯度”的 `(n mod B)/B` 倍。影响不大，但要知道；改法是传入
# `len(y)`，或者像 `DataLoader(drop_last=True)` 那样丢掉最后一个不完整的小批量。
# </details>

# %%
batches = list(data_iter(10, features[:993], labels[:993]))  # 993 = 99·10 + 3
print("小批量个数", len(batches), "，最后一个的大小", len(batches[-1][1]))
assert len(batches) == 100 and len(batches[-1][1]) == 3
assert sum(len(y) for _, y in batches) == 993

X_last, y_last = batches[-1]
w, b = torch.zeros((2, 1), requires_grad=True), torch.zeros(1, requires_grad=True)
d2l.squared_loss(d2l.linreg(X_last, w, b), y_last).sum().backward()
mean_grad = w.grad.clone() / len(y_last)
d2l.sgd([w, b], 0.03, 10)  # 书里的调用：除以 batch_size = 10
assert torch.allclose(-w.detach(), 0.03 * mean_grad * 3 / 10)  # 只走了平均梯度一步的 3/10

# %% [markdown]
# ## 练习 4：`squared_loss` 里的 `reshape`
#
# <details><summary>提示</summary>
#
# `d2l.linreg` 返回形状 `(n, 1)`；如果标签是形状 `(n,)` 的向量，`(n, 1) − (n,)` 按广播规则
# 得到什么形状？
# </details>
#
# <details><summary>解答</summary>
#
# 广播把 `(n, 1)` 和 `(n,)` 扩成 `(n, n)`：每个预测减去**每一个**标签，损失把 `n²` 个差都
# 加起来，数值完全错了，却不报错。`y.reshape(y_hat.shape)` 让两者形状一致。
# </details>

# %%
y_hat = d2l.linreg(features[:5], true_w.reshape(2, 1), true_b)
y_vec = labels[:5].flatten()  # 形状 (5,)
wrong = (y_hat - y_vec) ** 2 / 2
right = d2l.squared_loss(y_hat, y_vec)
print("不 reshape：", tuple(wrong.shape), "；reshape 之后：", tuple(right.shape))
assert wrong.shape == (5, 5) and right.shape == (5, 1)
assert right.sum() < 1e-3 < wrong.sum()

# %% [markdown]
# ## 练习 5：平方损失的 Hessian
#
# <details><summary>提示</summary>
#
# `L(θ) = ‖Aθ − y‖²/(2n)` 是 `θ` 的二次函数；梯度是 `Aᵀ(Aθ − y)/n`，再求一次导。
# </details>
#
# <details><summary>解答</summary>
#
# `∇²L = AᵀA/n = H`，与 `θ` 无关，就是练习 2 里的 `H`：损失函数的“曲率”。它最大的特征值
# 决定了学习率的上限 `2/λ_max`。
# </details>

# %%
hessian = torch.autograd.functional.hessian(
    lambda theta: 0.5 * ((A @ theta - yd) ** 2).mean(), torch.randn(3, dtype=torch.float64)
)
assert torch.allclose(hessian, H, atol=1e-12)
print("自动微分求出的 Hessian 等于 AᵀA/n：\n", hessian.numpy().round(3))

# %% [markdown]
# ## 练习 6：用自动微分学习欧姆定律的电阻
#
# <details><summary>提示</summary>
#
# 欧姆定律 `U = R·I`：电压是电流的线性函数，没有偏置。把 `R` 当作唯一的参数，损失函数仍用
# 平方损失，训练循环和上面的一样。
# </details>
#
# <details><summary>解答</summary>
#
# 可以。模型 `Û = R·I` 是只有一个权重、没有偏置的线性回归，`backward()` 求出
# `∂l/∂R = Σ(R·I_i − U_i)·I_i`，小批量随机梯度下降照常更新。它也有解析解
# `R* = Σ I_i U_i / Σ I_i²`，训练的结果应落在它附近。若测量仪器有零点偏差（`U = R·I + U₀`），
# 就再加一个偏置，和本节的模型完全一样。
# </details>

# %%
gen = torch.Generator().manual_seed(1)
current = torch.rand(200, 1, generator=gen) * 2.0  # 电流 0–2 A
voltage = 4.7 * current + 0.05 * torch.randn(200, 1, generator=gen)  # 4.7 Ω 的电阻，带测量噪声
R = torch.zeros(1, requires_grad=True)
for _ in range(20):
    for start in range(0, 200, 10):
        I, U = current[start : start + 10], voltage[start : start + 10]
        d2l.squared_loss(I * R, U).sum().backward()
        d2l.sgd([R], 0.1, 10)
R_exact = ((current * voltage).sum() / (current**2).sum()).item()
print(f"梯度下降学到的 R = {R.item():.4f} Ω，解析解 R* = {R_exact:.4f} Ω，真实值 4.7 Ω")
# 学习率固定的小批量随机梯度下降停在解析解附近、随小批量抖动（见 3.3 节），差在千分之几
assert abs(R.item() - R_exact) < 0.01 and abs(R_exact - 4.7) < 0.02

# %% [markdown]
# ## 练习 7：用普朗克定律从光谱测温度
#
# <details><summary>提示</summary>
#
# 普朗克定律 `B(λ, T) = (2hc²/λ⁵) / (exp(hc/(λkT)) − 1)` 对 `T` 不是线性的，但处处可导。
# 把 `T`（和一个未知的亮度比例 `A`）当作参数，最小化对数光谱的平方误差。
# </details>
#
# <details><summary>解答</summary>
#
# 可以。模型不再是线性的，没有解析解，但只要能写成可导的式子，自动微分就能求出损失对 `T`
# 的梯度，梯度下降照样能用。两点技巧：参数取 `log T` 和 `log A`，让它们的尺度相近；损失用
# `log B` 的残差，让短波和长波的误差同样重要。还可以用维恩位移定律 `λ_max·T ≈ 2898 μm·K`
# 从光谱的峰值粗略地验算一下。
# </details>

# %%
C2 = 14387.77  # hc/k，单位 μm·K
wavelength = torch.linspace(0.3, 3.0, 300, dtype=torch.float64)  # μm


def log_planck(log_T, log_A):
    T = torch.exp(log_T)
    return log_A - 5 * torch.log(wavelength) - torch.log(torch.expm1(C2 / (wavelength * T)))


gen = torch.Generator().manual_seed(2)
noise = 0.01 * torch.randn(300, dtype=torch.float64, generator=gen)  # 1% 的测量误差
observed = log_planck(torch.tensor(math.log(5800.0)), torch.tensor(0.0)) + noise  # 太阳表面
params = torch.tensor([math.log(3000.0), 1.0], dtype=torch.float64, requires_grad=True)
optimizer = torch.optim.Adam([params], lr=0.05)
for _ in range(600):
    optimizer.zero_grad()
    ((log_planck(params[0], params[1]) - observed) ** 2).mean().backward()
    optimizer.step()
T_fit = math.exp(params[0].item())
T_wien = 2897.77 / wavelength[observed.argmax()].item()
print(f"拟合得到的温度 {T_fit:.0f} K；维恩位移定律粗算 {T_wien:.0f} K；真实值 5800 K")
assert abs(T_fit - 5800) < 20 and abs(T_wien - 5800) < 300
