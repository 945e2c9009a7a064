# %% [markdown]
# # 3.7 softmax回归的简洁实现
#
# 配合《动手学深度学习》3.7 节：用 `nn.Flatten` 和 `nn.Linear` 搭模型，`nn.CrossEntropyLoss`
# 做损失函数，`torch.optim.SGD` 做优化器，再交给 `d2l.train_ch3`。接着把它和 3.6 节的从零实现
# 放在一起训练，验证两者每一步都相同。
#
# 书中“重新审视softmax的实现”一段讲了为什么要把 softmax 和交叉熵放在一起算：
# `CrossEntropyLoss` 接收**未规范化的预测**（logits），内部用 LogSumExp 技巧，既不会上溢，
# 也不会因为概率下溢成 0 而得到 `log 0 = −inf`。最后一个单元在数值上验证这一点。

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import torch
from torch import nn

from torchlinear import d2l
from torchlinear.data import iter_batches

sys.path.insert(0, str(Path.cwd()))
if "__file__" in globals():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fashion_standin import use_standin_if_missing  # noqa: E402

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "37_softmax_regression_concise"
OUT.mkdir(parents=True, exist_ok=True)
d2l.set_figure_dir(OUT)
print("图保存在", OUT.resolve())
STANDIN = use_standin_if_missing()
torch.manual_seed(0)

batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

# %% [markdown]
# ## 初始化模型参数
#
# PyTorch 不会自动调整输入的形状，所以在线性层前面放一个展平层 `nn.Flatten`，
# 把 `(批量, 1, 28, 28)` 变成 `(批量, 784)`。

# %%
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def init_weights(m):
    if type(m) is nn.Linear:
        nn.init.normal_(m.weight, std=0.01)


net.apply(init_weights)

# %% [markdown]
# ## 损失函数、优化算法与训练
#
# `reduction="none"` 让损失函数返回每个样本的损失，`d2l.train_epoch_ch3` 自己求平均。

# %%
loss = nn.CrossEntropyLoss(reduction="none")
trainer = torch.optim.SGD(net.parameters(), lr=0.1)
num_epochs = 3 if FAST else 10
train_loss, train_acc, test_acc = d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs,
                                                trainer)  # fmt: skip
print(f"训练损失 {train_loss:.3f}，训练精度 {train_acc:.3f}，测试精度 {test_acc:.3f}")
if STANDIN and train_acc > 0.9:  # 书里的 Animator 把纵轴固定在 [0.3, 0.9]
    print("替身数据比 Fashion-MNIST 容易得多：精度接近 1，超出了图的纵轴范围 [0.3, 0.9]，")
    print("曲线因此跑到了图外；在真实数据上，三条曲线都落在这个范围里。")
assert train_loss < 0.5 and train_acc > 0.7 and test_acc > 0.7

# %% [markdown]
# ## 与从零实现对照：每一步都相同
#
# 3.6 节的从零实现把一个小批量的交叉熵**求和**后反向传播，再由 `d2l.sgd` 除以批量大小；
# 本节用 PyTorch 的优化器，`d2l.train_epoch_ch3` 把损失**求平均**后反向传播。两者的梯度相同，
# 学习率也都是 0.1。所以从同一组初始参数出发、按同一个顺序读取小批量，两种实现每一步的参数都
# 应相同，只差 float32 的舍入误差。下面各训练三个迭代周期，记下每一步的小批量损失和两者参数的
# 最大差别。


# %%
def softmax(X):  # 3.6 节按定义写的 softmax
    X_exp = torch.exp(X)
    return X_exp / X_exp.sum(1, keepdim=True)


def cross_entropy(y_hat, y):  # 3.6 节的交叉熵
    return -torch.log(y_hat[range(len(y_hat)), y])


W = torch.normal(0, 0.01, size=(784, 10), requires_grad=True)  # 从零实现的参数
b = torch.zeros(10, requires_grad=True)
net_c = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))  # 简洁实现：复制同样的初始值
with torch.no_grad():
    net_c[1].weight.copy_(W.T)
    net_c[1].bias.zero_()
trainer_c = torch.optim.SGD(net_c.parameters(), lr=0.1)
loss_c = nn.CrossEntropyLoss()
X_all, y_all = train_iter.dataset.tensors
order = torch.Generator().manual_seed(0)  # 两者共用同一个小批量顺序
losses_s, losses_c, gaps = [], [], []
for _ in range(3):
    for X, y in iter_batches(X_all, y_all, batch_size, generator=order):
        l = cross_entropy(softmax(X.reshape(-1, 784) @ W + b), y)
        l.sum().backward()
        d2l.sgd([W, b], 0.1, len(y))
        l_c = loss_c(net_c(X), y)
        trainer_c.zero_grad()
        l_c.backward()
        trainer_c.step()
        losses_s.append(l.mean().item())
        losses_c.append(l_c.item())
        gap_W = (W.detach() - net_c[1].weight.detach().T).abs().max()
        gaps.append(max(gap_W.item(), (b.detach() - net_c[1].bias.detach()).abs().max().item()))
X_test, y_test = test_iter.dataset.tensors
with torch.no_grad():
    pred_s = softmax(X_test.reshape(-1, 784) @ W + b).argmax(dim=1)
    pred_c = net_c(X_test).argmax(dim=1)
agree = (pred_s == pred_c).float().mean().item()
print(f"{len(gaps)} 步里参数的最大差别 {max(gaps):.1e}")
print(f"最后一步的小批量损失：从零实现 {losses_s[-1]:.4f}，简洁实现 {losses_c[-1]:.4f}")
print(f"测试集上两者预测相同的比例：{agree:.4f}")
assert max(gaps) < 1e-5 and abs(losses_s[-1] - losses_c[-1]) < 1e-4
assert agree > 0.999 and losses_s[-1] < losses_s[0]

fig, (ax0, ax1) = d2l.plt.subplots(1, 2, figsize=(10, 3.4))
steps = range(1, len(gaps) + 1)
ax0.plot(steps, losses_s, "-", color="tab:blue", lw=4, alpha=0.4, label="from scratch (3.6)")
ax0.plot(steps, losses_c, "-", color="tab:orange", lw=1, label="concise (3.7)")
ax0.set_xlabel(f"step (minibatch of {batch_size})")
ax0.set_ylabel("minibatch cross-entropy")
ax0.set_title("3 epochs, same start, same order")
ax0.legend(fontsize=8)
ax1.semilogy(steps, [max(g, 1e-12) for g in gaps], "k.-", ms=3)
ax1.axhline(1e-5, color="r", ls="--", lw=1, label="tolerance checked by assert")
ax1.set_xlabel(f"step (minibatch of {batch_size})")
ax1.set_ylabel("max |θ_scratch − θ_concise|")
ax1.set_title("difference: float32 rounding only")
ax1.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "scratch_vs_concise.png", dpi=100)
print("已保存", OUT / "scratch_vs_concise.png")

# %% [markdown]
# ## 重新审视 softmax 的实现
#
# 若某个未规范化的预测 `o_j` 很大，`exp(o_j)` 会上溢；若很小，`softmax` 下溢成 0，
# `log 0 = −inf`。而 `log softmax(o)_j = o_j − max(o) − log Σ_k exp(o_k − max(o))`
# 两种情况都能算准。

# %%
o = torch.tensor([[1000.0, 0.0, -1000.0]])
labels = torch.tensor([2])
naive = -torch.log(torch.softmax(o, dim=1)[0, 2])  # 先 softmax 再取对数
fused = nn.CrossEntropyLoss()(o, labels)  # 合在一起算
print(f"先 softmax 再 log：{naive.item()}；CrossEntropyLoss：{fused.item()}")
assert torch.isinf(naive) and torch.isclose(fused, torch.tensor(2000.0))

# %% [markdown]
# ## 小结
#
# * 用 `nn.Flatten`、`nn.Linear`、`nn.CrossEntropyLoss` 和 `torch.optim.SGD`，几行代码就能训练
#   softmax回归；从同样的初始参数、按同样的顺序训练，它与从零实现每一步都相同。
# * 把未规范化的预测直接交给 `CrossEntropyLoss`，它把 softmax 和取对数合在一起算，既不会上溢，
#   也不会出现 `log 0`。

# %% [markdown]
# ## 练习
#
# 本节的练习见
# [`37_softmax_regression_concise.py`](../exercises/37_softmax_regression_concise.py)。
# 每道题都有提示、解答和验证答案的代码；先自己想，再去看。练习的内容：
#
# * 迭代周期越多，测试结果反而越差：过拟合，以及用权重衰减来缓解。
