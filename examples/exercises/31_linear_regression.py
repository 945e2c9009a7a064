# %% [markdown]
# # 练习 3.1 线性回归
#
# 《动手学深度学习》3.1 节末尾的练习，每道题先给**提示**，再给**解答**，最后用代码把答案
# 算一遍，并用 `assert` 检查：答案错了，这个笔记本就跑不下去。先自己想，再点开提示和解答。
#
# 1. 一组数 `x_1, …, x_n`，常数 `b` 取什么值时 `Σ_i (x_i − b)²` 最小？
# 2. 平方误差线性回归的解析解是什么？什么时候它不唯一？什么时候它比随机梯度下降好，什么时候
#    不如？
# 3. 如果噪声服从拉普拉斯分布 `p(ε) = ½·exp(−|ε|)`，极大似然估计要最小化什么？对只有常数
#    `b` 的模型，答案是什么？用随机梯度下降求解时，在最优点附近会出什么问题，怎样解决？

# %%
import math
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

# 图里的文字用英文：默认字体没有中文字形
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "31_linear_regression"
OUT.mkdir(parents=True, exist_ok=True)
print("图保存在", OUT.resolve())
torch.manual_seed(0)

# 一组带一个离群值的数：后面会看到平方误差和绝对误差对它的反应完全不同
x = torch.cat([torch.normal(3.0, 1.0, size=(19,)), torch.tensor([30.0])]).double()

# %% [markdown]
# ## 练习 1：使 `Σ(x_i − b)²` 最小的 `b`
#
# <details><summary>提示</summary>
#
# 这是 `b` 的一元二次函数：对 `b` 求导，令导数为零。
# </details>
#
# <details><summary>解答</summary>
#
# `d/db Σ(x_i − b)² = −2 Σ(x_i − b) = 0`，所以 `b* = (1/n) Σ x_i`，即平均值；二阶导数
# `2n > 0`，它是最小值。和正态分布的联系：若 `x_i = b + ε_i`、`ε_i ~ N(0, σ²)`，负对数似然
# 是 `Σ(x_i − b)²/(2σ²)` 加常数，所以 `b` 的极大似然估计就是平均值——这正是 3.1.3 节
# 结论（高斯噪声下，最小化均方误差等价于极大似然估计）最简单的情形。
# </details>

# %%
b = torch.linspace(-5, 35, 4001, dtype=torch.float64)
squared = ((x[None, :] - b[:, None]) ** 2).sum(dim=1)
b_grid = b[squared.argmin()].item()
print(f"网格上的最小点 b = {b_grid:.3f}，平均值 = {x.mean().item():.3f}")
assert abs(b_grid - x.mean().item()) <= 0.01  # 网格间距是 0.01
# 在平均值处导数为零（用自动微分求导）
b_star = x.mean().clone().requires_grad_(True)
((x - b_star) ** 2).sum().backward()
assert abs(b_star.grad.item()) < 1e-9

# %% [markdown]
# ## 练习 2：解析解
#
# <details><summary>提示</summary>
#
# 把偏置并进参数：给 `X` 加一列 1。损失 `‖y − Xw‖²` 对 `w` 求梯度，令其为零。
# </details>
#
# <details><summary>解答</summary>
#
# 梯度 `−2Xᵀ(y − Xw) = 0` 给出正规方程 `XᵀX w = Xᵀy`；`XᵀX` 可逆（`X` 的列线性无关）时
# `w* = (XᵀX)⁻¹Xᵀy`。正规方程说的是残差 `y − Xw*` 与 `X` 的每一列都正交。若有两列成比例
# （例如同一个量用米和厘米各记一次），`XᵀX` 奇异，解不唯一：沿着 `(100, −1)` 方向移动
# 两个系数，预测不变；这时通常取范数最小的那个解（伪逆给出的就是它）。
#
# 解析解什么时候更好：特征数 `d` 不大（解 `d × d` 的方程组要 `O(d³)`，累加 `XᵀX` 要
# `O(nd²)`），数据读一遍就够，得到的是精确的最小点，不用调学习率、迭代周期。什么时候不如
# 随机梯度下降：`d` 很大时 `XᵀX` 放不进内存或解不动；`XᵀX` 接近奇异时直接求逆误差很大
# （要用 QR 分解或加正则化）；模型不是线性的、损失不是平方损失时，根本没有解析解。
# </details>

# %%
n = 200
features = torch.randn(n, 2, dtype=torch.float64)
X = torch.cat([features, torch.ones(n, 1, dtype=torch.float64)], dim=1)
true_w = torch.tensor([2.0, -3.4, 4.2], dtype=torch.float64)
y = X @ true_w + 0.01 * torch.randn(n, dtype=torch.float64)

w_star = torch.linalg.solve(X.T @ X, X.T @ y)
print("解析解 w* =", w_star.numpy().round(4))
assert torch.allclose(X.T @ (y - X @ w_star), torch.zeros(3, dtype=torch.float64), atol=1e-10)
assert torch.allclose(w_star, torch.linalg.lstsq(X, y[:, None]).solution[:, 0], atol=1e-10)
assert torch.allclose(w_star, true_w, atol=0.01)

# 同一个特征记两次（第二次乘 100）：XᵀX 奇异，解不唯一
X_dup = torch.cat([X, 100 * X[:, :1]], dim=1)
assert torch.linalg.matrix_rank(X_dup.T @ X_dup) == 3
w_min = torch.linalg.pinv(X_dup) @ y
w_other = w_min + 0.5 * torch.tensor([100.0, 0, 0, -1.0], dtype=torch.float64)
assert torch.allclose(X_dup @ w_min, X_dup @ w_other)  # 预测完全一样
assert w_min.norm() < w_other.norm()  # 伪逆给出的是范数最小的那个
print("列重复时：两个不同的解给出相同的预测；伪逆取范数最小者", w_min.numpy().round(4))

# %% [markdown]
# ## 练习 3：拉普拉斯噪声
#
# <details><summary>提示</summary>
#
# 写出 `n` 个独立样本的负对数似然。对常数模型，`Σ|x_i − b|` 对 `b` 的导数是
# “小于 `b` 的个数减去大于 `b` 的个数”。
# </details>
#
# <details><summary>解答</summary>
#
# `−log P = Σ_i |y_i − wᵀx_i − b| + n·log 2`：极大似然就是最小化**绝对误差**之和，没有解析解
# （绝对值在 0 处不可导），要用次梯度法或线性规划。常数模型时导数
# `#{x_i < b} − #{x_i > b}` 在一半样本小于 `b` 时变号，所以 `b*` 是**中位数**。平均值被离群值
# 30 拉走了，中位数几乎不动：这就是 3.3 节练习里 Huber 损失想要的稳健性。
#
# 用随机梯度下降最小化 `Σ|x_i − b|` 时，`|r|` 的导数是 `sign(r)`：离最优点再近，梯度的大小也
# 不变，不像平方损失那样越靠近越小。学习率固定时，`b` 到了中位数附近就在两侧来回跳，跳动的
# 幅度与学习率同阶，永远停不下来。解决办法：让学习率随迭代次数减小，例如 `η_t = η₀/t`——
# `Σ η_t` 发散，所以从多远出发都走得到；`Σ η_t²` 收敛，所以最后停得下来。另一个办法是把最优点
# 附近的一小段换成平方损失，也就是 Huber 损失。
# </details>

# %%
absolute = (x[None, :] - b[:, None]).abs().sum(dim=1)
b_abs = b[absolute.argmin()].item()
# n = 20 是偶数：两个中间值之间的每一点都是最小点，网格取到的在这个区间里
lo, hi = x.sort().values[9].item(), x.sort().values[10].item()
print(f"绝对误差的最小点 b = {b_abs:.3f}，中间两个数是 {lo:.3f} 和 {hi:.3f}")
assert lo - 0.01 <= b_abs <= hi + 0.01
assert abs(x.median().item() - x[x < 30].median().item()) < 0.5  # 离群值几乎不影响中位数
assert x.mean().item() - x[x < 30].mean().item() > 1.0  # 却把平均值拉走了一大截


# 随机梯度下降：每步随机取一个样本，沿 −sign(b − x_i) 走一步
def sgd_median(lr_at, steps=4000, seed=0):
    gen = torch.Generator().manual_seed(seed)
    b_t, path = 0.0, []
    for t, i in enumerate(torch.randint(0, len(x), (steps,), generator=gen).tolist(), start=1):
        b_t -= lr_at(t) * math.copysign(1.0, b_t - x[i].item())
        path.append(b_t)
    return torch.tensor(path, dtype=torch.float64)


fixed = sgd_median(lambda t: 0.5)
decaying = sgd_median(lambda t: 5.0 / t)
last = slice(-1000, None)  # 最后 1000 步
std_fixed, std_decay = fixed[last].std().item(), decaying[last].std().item()
print(
    f"最后 1000 步里 b 的标准差：学习率固定为 0.5 时 {std_fixed:.3f}，学习率 5/t 时 {std_decay:.3f}"
)
assert std_fixed > 0.5 / 2  # 固定学习率：一直以学习率的幅度来回跳
assert std_decay < std_fixed / 10  # 学习率逐渐减小：停了下来
assert lo - 0.1 <= decaying[last].mean().item() <= hi + 0.1  # 停在中位数附近

fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.5))
ax.plot(b, squared / squared.min(), label="Σ(x − b)² / min")
ax.plot(b, absolute / absolute.min(), label="Σ|x − b| / min")
ax.axvline(x.mean().item(), color="tab:blue", ls=":", label=f"mean {x.mean().item():.2f}")
ax.axvline(x.median().item(), color="tab:orange", ls=":", label=f"median {x.median().item():.2f}")
ax.set_ylim(0.9, 3)
ax.set_xlim(-2, 14)
ax.set_xlabel("b")
ax.set_title("19 points near 3 and one outlier at 30: mean vs median")
ax.legend(fontsize=8)
ax2.plot(fixed, lw=0.8, label="SGD on Σ|x − b|, lr = 0.5")
ax2.plot(decaying, lw=0.8, label="SGD on Σ|x − b|, lr = 5/t")
ax2.axhspan(lo, hi, color="tab:green", alpha=0.4, label="minimisers (between the middle two)")
ax2.set_ylim(lo - 2, hi + 2)
ax2.set_xlabel("step t")
ax2.set_ylabel("b")
ax2.set_title("a fixed learning rate keeps jumping around the median")
ax2.legend(fontsize=8)
fig.savefig(OUT / "mean_vs_median.png", dpi=100, bbox_inches="tight")
print("已保存", OUT / "mean_vs_median.png")
