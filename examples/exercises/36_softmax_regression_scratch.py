# %% [markdown]
# # 练习 3.6 softmax回归的从零开始实现
#
# 《动手学深度学习》3.6 节的练习，每道题：**提示**、**解答**，再用代码验证。书里的
# `softmax` 和 `cross_entropy` 就是下面这两个函数：
#
# ```python
# def softmax(X):
#     X_exp = torch.exp(X)
#     partition = X_exp.sum(1, keepdim=True)
#     return X_exp / partition
#
# def cross_entropy(y_hat, y):
#     return -torch.log(y_hat[range(len(y_hat)), y])
# ```
#
# 1. 直接按定义实现 softmax 会有什么问题？（提示：试试 `softmax(torch.tensor([[50.0, 100.0]]))`）
# 2. `cross_entropy` 直接按定义实现会有什么问题？怎样解决？
# 3. 预测时总是返回概率最大的类别，一定最好吗？
# 4. 用 softmax回归预测下一个单词时，词表很大会带来什么问题？

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

OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "36_softmax_regression_scratch"
OUT.mkdir(parents=True, exist_ok=True)
print("图保存在", OUT.resolve())  # 图里的文字用英文：默认字体没有中文字形


def softmax(X):  # 书里的实现
    X_exp = torch.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition


def cross_entropy(y_hat, y):  # 书里的实现
    return -torch.log(y_hat[range(len(y_hat)), y])


# %% [markdown]
# ## 练习 1：输入很大时的 softmax
#
# <details><summary>提示</summary>
#
# float32 能表示的最大数约是 `3.4e38 ≈ exp(88.7)`。`exp(100)` 是多少？`inf / inf` 呢？
# 再证明：给一行的所有未规范化的预测加上同一个常数，softmax 不变。
# </details>
#
# <details><summary>解答</summary>
#
# `exp(100)` 上溢成 `inf`，`inf / inf = nan`，整行概率变成 `nan`（输入很负时则下溢，分母
# 为 0）。因为 `softmax(o − c) = exp(o − c)/Σexp(o − c) = softmax(o)`，取 `c = max(o)`：
# 减去最大值后指数最大是 `exp(0) = 1`，不会上溢，分母至少为 1，也不会除以 0。
# `torch.softmax` 内部就是这样做的。
# </details>


# %%
def stable_softmax(X):
    X_exp = torch.exp(X - X.max(1, keepdim=True).values)
    return X_exp / X_exp.sum(1, keepdim=True)


logits = torch.tensor([[50.0, 100.0, 0.0], [1.0, 2.0, 3.0], [-200.0, -300.0, -250.0]])
naive, stable = softmax(logits), stable_softmax(logits)
print("书里的 softmax：\n", naive, "\n减去最大值之后：\n", stable)
assert torch.isnan(naive[0, 1]) and torch.isnan(naive[2]).all(), "上溢与下溢"
assert torch.allclose(naive[1], stable[1])  # 小的输入两者一样
assert torch.allclose(stable, torch.softmax(logits, 1))
# 精确的参照：双精度下 exp(−50)/(1 + exp(−50) + exp(−100))
assert math.isclose(stable[0, 0].item(), math.exp(-50) / (1 + math.exp(-50) + math.exp(-100)),
                    rel_tol=1e-5)  # fmt: skip
assert torch.allclose(stable_softmax(logits + 1000.0), stable)  # 平移不变

# %% [markdown]
# ## 练习 2：`cross_entropy` 里的 `log(0)`
#
# <details><summary>提示</summary>
#
# 真实类别的概率在 float32 里会不会变成恰好 0？`−log 0` 是多少？换一种写法：
# `−log softmax(o)_y = log Σ_k exp(o_k) − o_y`，再用练习 1 的技巧。
# </details>
#
# <details><summary>解答</summary>
#
# 模型对一个样本错得很离谱时，真实类别的概率可能下溢成 0，`−log 0 = inf`，平均损失变成
# `inf`，梯度里出现 `nan`，训练就坏了。把 softmax 和 log 合在一起算：
# `log Σ_k exp(o_k) − o_y = m + log Σ_k exp(o_k − m) − o_y`（`m = max o`），结果有限而且精确。
# 这就是 `torch.log_softmax` 和 `nn.CrossEntropyLoss` 的做法，也是 3.7 节把 softmax 和交叉熵
# 放在一起的原因。
# </details>

# %%
o = torch.tensor([[0.0, 120.0, 5.0]])
y = torch.tensor([0])  # 真实类别 0，模型却非常确信是类别 1
naive_loss = cross_entropy(stable_softmax(o), y)
fused_loss = -torch.log_softmax(o, 1)[range(1), y]
print("书里的 cross_entropy：", naive_loss.item(), "；合在一起算：", fused_loss.item())
assert torch.isinf(naive_loss).all()
# 精确值：log(1 + exp(120) + exp(5)) − 0 = 120 + log(1 + exp(−120) + exp(−115))
assert math.isclose(fused_loss.item(), 120 + math.log1p(math.exp(-120) + math.exp(-115)))
assert torch.allclose(fused_loss, torch.nn.functional.cross_entropy(o, y))

# 上溢从哪里开始：float32 的 exp 在 88.72 附近变成 inf
t = torch.linspace(0, 120, 1201)
fig, ax = plt.subplots(figsize=(6.5, 3.5))
p_true = stable_softmax(torch.stack([torch.zeros_like(t), t], 1))[:, 0]
ax.semilogy(t, -torch.log(p_true), label="−log(softmax(o)[y])  (book's cross_entropy)")
ax.semilogy(t, -torch.log_softmax(torch.stack([torch.zeros_like(t), t], 1), 1)[:, 0], "--",
            label="log Σ exp(o) − o[y]  (log_softmax)")  # fmt: skip
first_inf = t[torch.isinf(-torch.log(p_true))][0].item()
ax.axvline(
    first_inf, color="tab:red", ls=":", label=f"p underflows to 0 at o1 − o0 = {first_inf:g}"
)
ax.set_xlabel("o1 − o0  (true class 0)")
ax.set_ylabel("cross-entropy loss")
ax.set_title("float32: the unfused loss becomes inf, the fused one stays exact")
ax.legend(fontsize=8)
fig.savefig(OUT / "cross_entropy_underflow.png", dpi=100, bbox_inches="tight")
print("已保存", OUT / "cross_entropy_underflow.png")
assert 100 < first_inf < 110  # exp(−104) 约是 float32 最小的非规格化数

# %% [markdown]
# ## 练习 3：总是返回概率最大的类别，一定最好吗？
#
# <details><summary>提示</summary>
#
# “最好”取决于各种错误的代价。如果把一个病人误判为健康的代价是把健康人误判为病人的 10 倍，
# 两类的概率分别是 0.8（健康）和 0.2（有病），应该报告哪个？
# </details>
#
# <details><summary>解答</summary>
#
# 只有当所有错误的代价相同时，取 argmax 才使期望代价（错误率）最小。一般地，应选期望代价
# `Σ_k p_k · cost[k, j]` 最小的类别 `j`。上面的例子里报告“健康”的期望代价是 `0.2 × 10 = 2`，
# 报告“有病”是 `0.8 × 1 = 0.8`，所以尽管“有病”的概率只有 0.2，也应该报告它。
# </details>

# %%
p = torch.tensor([0.8, 0.2])  # 健康、有病
cost = torch.tensor([[0.0, 1.0], [10.0, 0.0]])  # cost[真实类别, 报告的类别]
expected_cost = p @ cost
print("报告“健康”与“有病”的期望代价：", expected_cost.numpy().round(2))
assert p.argmax() == 0 and expected_cost.argmin() == 1

# %% [markdown]
# ## 练习 4：词表很大时的 softmax
#
# <details><summary>提示</summary>
#
# 用 softmax回归预测下一个单词，类别数就是词表大小 `V`（几万到几十万）。输入是 `d` 维的
# 向量时，权重有多少个？为了算出**一个**单词的概率，要算多少个未规范化的预测？
# </details>
#
# <details><summary>解答</summary>
#
# 权重矩阵是 `d × V`：`d = 256`、`V = 50000` 时就有一千二百多万个参数。更麻烦的是分母
# `Σ_k exp(o_k)` 要用到全部 `V` 个未规范化的预测，所以哪怕只关心一个单词的概率，每个样本也要
# 做 `d·V` 次乘加，训练和预测的时间都随 `V` 线性增长；而且大多数单词的概率都极小，梯度的
# 大部分花在了几乎不出现的单词上。常见的办法：用子词（subword）把词表压小；层次化 softmax
# （把单词排成一棵树，每次只走一条路径，代价约为 `d·log₂ V`）；训练时只对一部分随机抽取的
# 单词算分母（负采样、采样 softmax）。
# </details>

# %%
d, batch = 256, 64
features = torch.randn(batch, d)
threads = torch.get_num_threads()
torch.set_num_threads(1)  # 计时只用一个线程，免得机器上别的程序让结果忽快忽慢
seconds = {}
for V in (1000, 50000):
    W = torch.randn(d, V) * 0.01
    torch.softmax(features @ W, 1)  # 先热身一次
    runs = []
    for _ in range(5):  # 取 5 次里最快的一次
        start = time.perf_counter()
        probs = torch.softmax(features @ W, 1)
        runs.append(time.perf_counter() - start)
    seconds[V] = min(runs)
    print(f"V = {V:6}：{d * V:>10,} 个权重，一个小批量（{batch} 个样本）的 softmax 用时 "
          f"{seconds[V] * 1e3:.2f} 毫秒；每个单词的平均概率 {probs.mean().item():.1e}")  # fmt: skip
    assert torch.allclose(probs.sum(1), torch.ones(batch))
torch.set_num_threads(threads)
assert seconds[50000] > 5 * seconds[1000]  # 类别多 50 倍，时间也多出几十倍
print(f"层次化 softmax 每个样本只需约 d·log₂V = {d * math.ceil(math.log2(50000)):,} 次乘加，"
      f"而不是 d·V = {d * 50000:,} 次")  # fmt: skip
