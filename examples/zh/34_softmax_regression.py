# %% [markdown]
# # 3.4 softmax回归
#
# 配合《动手学深度学习》3.4 节。这一节还不训练模型，讲的是分类问题的三个要素：
#
# 1. 独热编码（one-hot）表示类别，全连接层输出每个类别的**未规范化的预测**（logits）`o`；
# 2. softmax 把 `o` 变成非负、和为 1 的概率 `ŷ = softmax(o)`，且不改变各类别的大小顺序；
# 3. 交叉熵损失 `l(y, ŷ) = −Σ_j y_j log ŷ_j`，它对 `o` 的导数是 `softmax(o) − y`。
#
# 我们用 PyTorch 的自动微分逐一验证这些式子，再看两件书里提到但容易忽略的事：softmax 在
# 输入很大时会上溢，以及交叉熵就是极大似然。

# %%
import math
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import torch
from torch import nn

from torchlinear import d2l

OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "34_softmax_regression"
OUT.mkdir(parents=True, exist_ok=True)
d2l.set_figure_dir(OUT)
print("图保存在", OUT.resolve())
torch.manual_seed(0)

# %% [markdown]
# ## 独热编码与 softmax
#
# 三个类别“猫、鸡、狗”分别编码成 `(1, 0, 0)`、`(0, 1, 0)`、`(0, 0, 1)`。softmax 之后，
# 最大的未规范化的预测仍对应最大的概率，所以预测类别时可以直接取 `argmax(o)`。

# %%
o = torch.tensor([[1.0, 2.0, 0.5], [-1.0, 3.0, 3.5]])
y_hat = torch.softmax(o, dim=1)
print("softmax(o) =", y_hat)
assert torch.allclose(y_hat.sum(dim=1), torch.ones(2)) and (y_hat >= 0).all()
assert torch.equal(y_hat.argmax(dim=1), o.argmax(dim=1))
# 给所有 logits 加同一个常数，softmax 不变：这正是后面“减去最大值”防上溢的依据
assert torch.allclose(torch.softmax(o + 100, dim=1), y_hat)
y_onehot = nn.functional.one_hot(torch.tensor([1, 2]), 3).float()
print("独热编码的标签：", y_onehot)

# %% [markdown]
# ## 交叉熵损失及其导数
#
# 对一个样本，`l(y, ŷ) = −Σ_j y_j log ŷ_j = log Σ_k exp(o_k) − Σ_j y_j o_j`，于是
# `∂l/∂o_j = softmax(o)_j − y_j`：导数就是“预测的概率减去真实的概率”。

# %%
o_var = o.clone().requires_grad_(True)
l = -(y_onehot * torch.log_softmax(o_var, dim=1)).sum()
l.backward()
print("自动微分：", o_var.grad, "\nsoftmax(o) − y：", torch.softmax(o, dim=1) - y_onehot)
assert torch.allclose(o_var.grad, torch.softmax(o, dim=1) - y_onehot, atol=1e-6)
# 与 PyTorch 的 CrossEntropyLoss 对照（它接收未规范化的预测和类别下标）
ce = nn.CrossEntropyLoss(reduction="sum")(o, torch.tensor([1, 2]))
assert torch.allclose(ce, l.detach())

# %% [markdown]
# ## 信息论视角：熵与交叉熵
#
# 分布 `P` 的熵是 `H[P] = −Σ P(j) log P(j)`。数据来自 `P`，却按分布 `Q` 来编码，平均每个样本
# 要用交叉熵 `H(P, Q) = −Σ P(j) log Q(j)` 纳特（对数以 e 为底）。总有 `H(P, Q) ≥ H[P]`，当且仅当
# `Q = P` 时取等号：交叉熵越小，模型的分布 `Q` 就越接近数据的分布 `P`。

# %%
P = torch.tensor([0.5, 0.25, 0.25])
entropy = -(P * P.log()).sum()
for Q in (P, torch.tensor([0.4, 0.3, 0.3]), torch.tensor([1 / 3, 1 / 3, 1 / 3])):
    cross = -(P * Q.log()).sum()
    shown = [round(q, 4) for q in Q.tolist()]
    print(f"Q = {shown}: H(P, Q) = {cross:.4f}  ≥  H[P] = {entropy:.4f}")
    assert cross >= entropy - 1e-7
assert math.isclose(entropy.item(), 1.5 * math.log(2), rel_tol=1e-6)

# %% [markdown]
# ## 交叉熵就是极大似然
#
# 样本相互独立时，似然是 `Π_i ŷ_{i, y_i}`；取负对数，就是交叉熵损失之和。所以最小化
# 交叉熵就是最大化“模型给真实类别的概率”的乘积。下面在一批随机数据上逐项核对。

# %%
logits = torch.randn(8, 5)
labels = torch.randint(0, 5, (8,))
probs = torch.softmax(logits, dim=1)
likelihood = probs[torch.arange(8), labels].prod()
total_ce = nn.CrossEntropyLoss(reduction="sum")(logits, labels)
print(f"−log 似然 = {-likelihood.log():.6f}，交叉熵之和 = {total_ce:.6f}")
assert torch.allclose(-likelihood.log(), total_ce, atol=1e-5)

# %% [markdown]
# ## 输入很大时的 softmax
#
# 按定义 `exp(o_j) / Σ exp(o_k)` 直接计算，`o` 里有个 100 就会让 `exp` 在 float32 里上溢成
# `inf`，得到 `nan`。先减去每行的最大值（前面验证过，这不改变结果）就安全了。

# %%
big = torch.tensor([[100.0, 101.0, 102.0]])
naive = torch.exp(big) / torch.exp(big).sum(dim=1, keepdim=True)
shifted = torch.exp(big - big.max(dim=1, keepdim=True).values)
stable = shifted / shifted.sum(dim=1, keepdim=True)
print("直接按定义：", naive, "\n减去最大值：", stable)
assert torch.isnan(naive).all() and torch.allclose(stable, torch.softmax(big, dim=1))

# %% [markdown]
# 下图取未规范化的预测 `o = (0, 1, 2, 3, 4)`，除以“温度” `T` 再做 softmax。`T` 越小，分布越
# 集中在最大的那一类上（`T → 0` 时趋于独热编码，即 `argmax`）；`T` 越大，分布越平（`T → ∞` 时
# 趋于均匀分布）。无论 `T` 取多少，各类别的大小顺序都不变。

# %%
temps = [0.25, 1.0, 4.0]
x = torch.arange(5.0)
curves = [torch.softmax(x / t, dim=0) for t in temps]
d2l.plot(x, curves, xlabel="class j", ylabel="softmax(o / T)",
         legend=[f"T = {t}" for t in temps], figsize=(4.5, 2.5))  # fmt: skip
peaks = [c.max().item() for c in curves]
print("最大类别的概率：", {t: round(p, 3) for t, p in zip(temps, peaks, strict=True)})
assert peaks[0] > peaks[1] > peaks[2] > 1 / len(x)  # 温度越低越集中
assert all(torch.equal(c.argsort(), x.argsort()) for c in curves)  # 顺序不变
assert torch.softmax(x / 0.01, dim=0)[-1] > 0.999  # T → 0：趋于 argmax 的独热编码
assert torch.allclose(torch.softmax(x / 1e4, dim=0), torch.full((5,), 0.2), atol=1e-3)  # T → ∞

# %% [markdown]
# ## 小结
#
# * 全连接层输出未规范化的预测 `o`，softmax 把它变成概率，但不改变 `argmax`。
# * 交叉熵对 `o` 的梯度是 `softmax(o) − y`，形式与线性回归的“预测减标签”一样。
# * 最小化交叉熵就是极大似然；计算时要减去最大值，否则大输入会上溢。

# %% [markdown]
# ## 练习
#
# 本节的练习见
# [`34_softmax_regression.py`](../exercises/34_softmax_regression.py)。
# 每道题都有提示、解答和验证答案的代码；先自己想，再去看。练习的内容：
#
# * 交叉熵对 `o` 的二阶导数就是 softmax 分布的方差；
# * 三个等概率类别的二进制编码；
# * RealSoftMax 与 `max` 的关系；
# * 为什么最小化交叉熵就是极大似然估计。
