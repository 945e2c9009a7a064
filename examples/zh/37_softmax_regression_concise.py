# %% [markdown]
# # 3.7 softmax回归的简洁实现
#
# 配合《动手学深度学习》3.7 节：用 `nn.Flatten` 和 `nn.Linear` 搭模型，
# `nn.CrossEntropyLoss` 做损失函数，`torch.optim.SGD` 做优化器，再交给 `d2l.train_ch3`。
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
assert train_loss < 0.5 and train_acc > 0.7 and test_acc > 0.7

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
