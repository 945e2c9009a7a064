# %% [markdown]
# # 练习 3.3 线性回归的简洁实现
#
# 《动手学深度学习》3.3 节的练习，每道题：**提示**、**解答**，再用代码验证。
#
# 1. 如果把小批量的总损失换成平均损失，学习率要怎样改？
# 2. Huber 损失是什么？它的导数是什么？（`nn.HuberLoss`）
# 3. 怎样访问线性回归的梯度？

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from torch import nn

from torchlinear import d2l

OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "33_linear_regression_concise"
OUT.mkdir(parents=True, exist_ok=True)
print("图保存在", OUT.resolve())  # 图里的文字用英文：默认字体没有中文字形
torch.manual_seed(0)

true_w, true_b = torch.tensor([2, -3.4]), 4.2
features, labels = d2l.synthetic_data(true_w, true_b, 1000)

# %% [markdown]
# ## 练习 1：总损失与平均损失
#
# <details><summary>提示</summary>
#
# 批量大小为 `B` 时，总损失的梯度是平均损失梯度的几倍？一步 `w ← w − η·g` 走多远？
# </details>
#
# <details><summary>解答</summary>
#
# 总损失 `Σ_i l_i` 的梯度是平均损失 `(1/B)Σ_i l_i` 梯度的 `B` 倍。所以把总损失换成平均损失时，
# 学习率要乘以 `B`；反过来，用 `nn.MSELoss(reduction="sum")` 时学习率要除以 `B`，每一步才和
# `reduction="mean"`、学习率 `η` 完全一样。若不改，步长大了 `B` 倍：`lr = 0.03`、`B = 10`
# 相当于平均损失下的学习率 0.3，还能收敛；`B = 64` 时相当于 1.92，超过了阈值
# `1/λ_max ≈ 0.9`（`nn.MSELoss` 没有 1/2，梯度是书里 `squared_loss` 的两倍，所以阈值是
# 3.2 节练习 2 的一半），训练就发散了。
# </details>


# %%
def fit(reduction, lr, batch_size=10):
    torch.manual_seed(1)  # 每次都从同一组初始参数出发
    net = nn.Sequential(nn.Linear(2, 1))
    loss = nn.MSELoss(reduction=reduction)
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    for X, y in d2l.load_array((features, labels), batch_size, is_train=False):
        trainer.zero_grad()
        loss(net(X), y).backward()
        trainer.step()
    return torch.cat([net[0].weight.detach().flatten(), net[0].bias.detach()])


mean_params, sum_params = fit("mean", 0.03), fit("sum", 0.03 / 10)
print("平均损失、lr = 0.03：    ", mean_params.numpy())
print("总损失、  lr = 0.03 / 10：", sum_params.numpy())
assert torch.allclose(mean_params, sum_params, atol=1e-5)
# 学习率不改：批量 10 还能收敛，批量 64 就发散了
assert torch.allclose(fit("sum", 0.03), torch.tensor([2.0, -3.4, 4.2]), atol=0.01)
diverged = fit("sum", 0.03, batch_size=64)
print("总损失、lr = 0.03、批量 64：", diverged.numpy())
assert not torch.isfinite(diverged).all() or diverged.abs().max() > 1e6

# %% [markdown]
# ## 练习 2：Huber 损失及其导数
#
# <details><summary>提示</summary>
#
# 对残差 `r = ŷ − y`，Huber 损失在 `|r| ≤ δ` 时是 `r²/2`，在外面是一条直线，要求两段在
# `|r| = δ` 处的值和斜率都接上。
# </details>
#
# <details><summary>解答</summary>
#
# `l(r) = r²/2`（`|r| ≤ δ`），`l(r) = δ(|r| − δ/2)`（`|r| > δ`）。在 `|r| = δ` 处两段都等于
# `δ²/2`，斜率都是 `±δ`。导数 `l'(r) = r`（`|r| ≤ δ`）、`δ·sign(r)`（`|r| > δ`），合起来就是
# `clamp(r, −δ, δ)`：残差小的时候像平方损失，大的时候梯度被截在 `±δ`，离群值拉不动模型。
# PyTorch 的 `nn.HuberLoss(delta=δ)` 正是这个式子；`nn.SmoothL1Loss(beta=δ)` 是它除以 `δ`。
# </details>

# %%
delta = 1.5
r = torch.linspace(-5, 5, 1001, dtype=torch.float64, requires_grad=True)
huber = torch.where(r.abs() <= delta, r**2 / 2, delta * (r.abs() - delta / 2))
huber.sum().backward()
torch_huber = nn.HuberLoss(reduction="none", delta=delta)(r, torch.zeros_like(r))
smooth_l1 = nn.SmoothL1Loss(reduction="none", beta=delta)(r, torch.zeros_like(r))
assert torch.allclose(huber, torch_huber) and torch.allclose(huber, delta * smooth_l1)
assert torch.allclose(r.grad, r.detach().clamp(-delta, delta))
print(f"δ = {delta}：Huber 损失与 nn.HuberLoss 一致，导数等于 clamp(r, −δ, δ)")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
rd = r.detach()
axes[0].plot(rd, rd**2 / 2, "--", color="gray", label="squared r²/2")
axes[0].plot(rd, huber.detach(), label=f"Huber, δ = {delta}")
axes[0].plot(rd, rd.abs(), ":", color="gray", label="absolute |r|")
axes[0].set_ylim(0, 8)
axes[0].set_title("loss")
axes[1].plot(rd, rd, "--", color="gray", label="squared: r")
axes[1].plot(rd, r.grad, label="Huber: clamp(r, −δ, δ)")
axes[1].plot(rd, rd.sign(), ":", color="gray", label="absolute: sign(r)")
axes[1].set_title("derivative")
for ax in axes:
    ax.axvline(-delta, color="tab:red", lw=0.6)
    ax.axvline(delta, color="tab:red", lw=0.6)
    ax.set_xlabel("residual r = ŷ − y")
    ax.legend(fontsize=8)
fig.savefig(OUT / "huber.png", dpi=100, bbox_inches="tight")
print("已保存", OUT / "huber.png")

# %% [markdown]
# ## 练习 3：访问梯度
#
# <details><summary>提示</summary>
#
# `backward()` 之后，梯度存在参数的 `.grad` 里：`net[0].weight.grad`、`net[0].bias.grad`。
# 用平方损失的梯度公式手算一遍来对照。
# </details>
#
# <details><summary>解答</summary>
#
# `nn.MSELoss()` 是 `(1/n)Σ(ŷ_i − y_i)²`（没有书里 `squared_loss` 的 1/2），所以
# `∂L/∂w = (2/n)Xᵀ(ŷ − y)`、`∂L/∂b = (2/n)Σ(ŷ_i − y_i)`。
# </details>

# %%
net = nn.Sequential(nn.Linear(2, 1))
X, y = features[:100], labels[:100]
nn.MSELoss()(net(X), y).backward()
residual = (net(X) - y).detach()
print("weight.grad =", net[0].weight.grad, " bias.grad =", net[0].bias.grad)
assert torch.allclose(net[0].weight.grad, 2 * residual.T @ X / len(X), atol=1e-5)
assert torch.allclose(net[0].bias.grad, 2 * residual.mean(0), atol=1e-5)
