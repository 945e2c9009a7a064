# %% [markdown]
# # 练习 3.4 softmax回归
#
# 《动手学深度学习》3.4 节的练习，每道题：**提示**、**解答**，再用代码验证。记号：`o` 是
# 未规范化的预测（logits），`p = softmax(o)`，`y` 是独热编码的标签，交叉熵损失
# `l(y, o) = log Σ_k exp(o_k) − Σ_j y_j o_j`。
#
# 1. 计算 `l` 对 `o` 的二阶导数，并与 softmax 给出的分布的方差对照。
# 2. 三个类别等概率出现，为它们设计二进制编码：每个类别两位够吗？最少平均要几位？
# 3. RealSoftMax `log(exp(a) + exp(b))` 是 `max(a, b)` 的光滑近似吗？它和 softmax 是什么关系？
# 4. 为什么说最小化交叉熵就是极大似然估计？

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

OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "34_softmax_regression"
OUT.mkdir(parents=True, exist_ok=True)
print("图保存在", OUT.resolve())  # 图里的文字用英文：默认字体没有中文字形
torch.manual_seed(0)
torch.set_default_dtype(torch.float64)  # 这里验证的是恒等式：用双精度

# %% [markdown]
# ## 练习 1：交叉熵的二阶导数就是方差
#
# <details><summary>提示</summary>
#
# 先求一阶导数 `∂l/∂o_j = p_j − y_j`，再对 `o_k` 求导：`∂p_j/∂o_k` 是多少？
# </details>
#
# <details><summary>解答</summary>
#
# `∂p_j/∂o_k = p_j(δ_jk − p_k)`，所以 Hessian 是 `diag(p) − ppᵀ`，与标签 `y` 无关。对角线
# `p_j(1 − p_j)` 是“样本是否属于类别 j”这个伯努利变量的方差；整个矩阵是独热向量 `Y`
# （按 `p` 随机抽一个类别）的协方差矩阵 `E[YYᵀ] − E[Y]E[Y]ᵀ = diag(p) − ppᵀ`。它半正定，
# 所以交叉熵是 `o` 的凸函数。
# </details>

# %%
o = torch.randn(5)
y = torch.nn.functional.one_hot(torch.tensor(2), 5).double()
hessian = torch.autograd.functional.hessian(lambda o: torch.logsumexp(o, 0) - (y * o).sum(), o)
p = torch.softmax(o, 0)
covariance = sum(p[k] * torch.outer(torch.eye(5)[k], torch.eye(5)[k]) for k in range(5))
covariance = covariance - torch.outer(p, p)  # E[YYᵀ] − E[Y]E[Y]ᵀ，逐个类别精确求和
assert torch.allclose(hessian, torch.diag(p) - torch.outer(p, p), atol=1e-12)
assert torch.allclose(hessian, covariance, atol=1e-12)
assert torch.allclose(hessian.diagonal(), p * (1 - p), atol=1e-12)
assert torch.linalg.eigvalsh(hessian).min() > -1e-12  # 半正定：交叉熵是凸的
print("Hessian 的对角线 =", hessian.diagonal().numpy().round(4), "= p(1 − p)")

# %% [markdown]
# ## 练习 2：三个等概率类别的二进制编码
#
# <details><summary>提示</summary>
#
# 信息论告诉我们平均码长不能低于熵 `H = −Σ p log₂ p`。把 `n` 个观测合起来编码，`3ⁿ` 种
# 组合需要多少位？
# </details>
#
# <details><summary>解答</summary>
#
# 每个类别单独编码要 2 位（`00, 01, 10`），浪费了一个码字。熵是 `log₂ 3 ≈ 1.585` 位。
# 把 `n` 个观测合起来编码，`3ⁿ` 种组合需要 `⌈n·log₂ 3⌉` 位，平均每个观测
# `⌈n·log₂ 3⌉/n` 位，`n` 越大越接近 1.585：例如 5 个一组，`3⁵ = 243 ≤ 256 = 2⁸`，平均 1.6 位。
# 交叉熵的单位就是这种平均码长（以 2 为底时是比特，以 e 为底时是纳特）。
# </details>

# %%
entropy = -sum(1 / 3 * math.log2(1 / 3) for _ in range(3))
assert math.isclose(entropy, math.log2(3))
bits = {n: math.ceil(n * math.log2(3)) / n for n in (1, 5, 12, 100)}
print("平均每个观测的位数：", {n: round(v, 4) for n, v in bits.items()})
assert bits[1] == 2 and bits[5] == 1.6 and 3**5 <= 2**8 < 3**6
assert all(entropy <= v for v in bits.values()) and bits[100] - entropy < 0.01

# %% [markdown]
# ## 练习 3：RealSoftMax（log-sum-exp）
#
# <details><summary>提示</summary>
#
# 设 `m = max(a, b)`，把 `exp(a) + exp(b)` 写成 `exp(m)·(1 + exp(−|a − b|))`。
# </details>
#
# <details><summary>解答</summary>
#
# `RealSoftMax(a, b) = m + log(1 + exp(−|a − b|))`，所以 `max(a, b) < RealSoftMax(a, b) ≤
# max(a, b) + log 2`。对 `λ > 0`，`λ⁻¹·RealSoftMax(λa, λb) − max(a, b) ≤ (log 2)/λ → 0`：它是
# `max` 的光滑近似，`λ` 越大越像。它的梯度正是 `softmax(a, b)`——“软”的 argmax，这就是
# softmax 名字的来历；减去 `m` 的写法也就是 3.7 节防止上溢的技巧。
# </details>

# %%
a, b = torch.randn(1000) * 5, torch.randn(1000) * 5
lse = torch.logsumexp(torch.stack([a, b]), 0)
m = torch.maximum(a, b)
assert (lse > m).all() and (lse <= m + math.log(2) + 1e-12).all()
for lam in (1.0, 10.0, 100.0):
    gap = torch.logsumexp(torch.stack([lam * a, lam * b]), 0) / lam - m
    bound = math.log(2) / lam
    print(f"λ = {lam:>5}: 与 max 的最大差距 {gap.max().item():.2e} ≤ log2/λ = {bound:.2e}")
    # λ 很大时 log(1 + exp(−λ|a − b|)) 比舍入误差还小：允许 1e-12 的误差
    assert (gap > -1e-12).all() and (gap <= bound + 1e-12).all()
ab = torch.tensor([1.0, 3.0], requires_grad=True)
torch.logsumexp(ab, 0).backward()
assert torch.allclose(ab.grad, torch.softmax(ab.detach(), 0))  # 梯度就是 softmax

t = torch.linspace(-4, 4, 401)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(t, torch.maximum(t, torch.zeros_like(t)), "k--", label="max(a, 0)")
for lam in (0.5, 1.0, 4.0):
    ax.plot(t, torch.logaddexp(lam * t, torch.zeros_like(t)) / lam, label=f"RealSoftMax, λ = {lam}")
ax.set_xlabel("a  (b = 0)")
ax.set_title("λ⁻¹ log(exp(λa) + exp(λb)) approaches max(a, b)")
ax.legend(fontsize=8)
fig.savefig(OUT / "realsoftmax.png", dpi=100, bbox_inches="tight")
print("已保存", OUT / "realsoftmax.png")

# %% [markdown]
# ## 练习 4：交叉熵就是极大似然
#
# <details><summary>提示</summary>
#
# 模型给样本 `i` 的真实类别 `c_i` 的概率是 `p_{c_i}`。写出 `n` 个独立样本的似然，取负对数，
# 再除以 `n`。最简单的情形：没有特征，所有样本共用一组未规范化的预测 `o`，最优的 `p` 是什么？
# </details>
#
# <details><summary>解答</summary>
#
# 似然 `L = Π_i p_{c_i}`，`−(1/n) log L = (1/n) Σ_i −log p_{c_i}`，正是平均交叉熵损失：最小化
# 一个就是最大化另一个。没有特征时，`n_k` 个样本属于类别 `k`，负对数似然 `−Σ_k n_k log p_k`
# 在约束 `Σ p_k = 1` 下的最小点是 `p_k = n_k/n`（拉格朗日乘子法），即各类别的频率；在 `o` 上
# 的梯度 `n·p − (n_1, …, n_K)` 在那里为零。用梯度下降在 `o` 上训练，会走到同一个答案。
# </details>

# %%
classes = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
o = torch.zeros(3, requires_grad=True)
for _ in range(500):
    loss = torch.nn.functional.cross_entropy(o.expand(len(classes), 3), classes)
    loss.backward()
    with torch.no_grad():
        o -= 1.0 * o.grad
        o.grad.zero_()
p = torch.softmax(o.detach(), 0)
print("训练出的概率", p.numpy().round(4), "；各类别的频率 [0.5, 0.3, 0.2]")
assert torch.allclose(p, torch.tensor([0.5, 0.3, 0.2]), atol=1e-6)
likelihood = math.prod(p[c].item() for c in classes)
mean_cross_entropy = torch.nn.functional.cross_entropy(o.detach().expand(100, 3), classes)
print(f"−log(似然)/n = {-math.log(likelihood) / 100:.6f}，平均交叉熵 = {mean_cross_entropy:.6f}")
assert math.isclose(-math.log(likelihood) / 100, mean_cross_entropy.item(), rel_tol=1e-12)
