# %% [markdown]
# # 3.3 线性回归的简洁实现
#
# 配合《动手学深度学习》3.3 节：用 PyTorch 的高级 API 重写上一节。`d2l.load_array` 把张量
# 包装成 `DataLoader`；`nn.Linear` 是全连接层；`nn.MSELoss` 是均方误差；`torch.optim.SGD`
# 实现小批量随机梯度下降。最后用解析解检查训练出的参数，并说明 `nn.MSELoss` 与上一节
# 平方损失之间的差别（少了 1/2）。

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import numpy as np
import torch
from torch import nn

from torchlinear import d2l

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
    history.append(float(l))
    print(f"epoch {epoch + 1}, loss {l:f}")

# 每个迭代周期结束时的训练损失（对数坐标）
d2l.plot(list(range(1, num_epochs + 1)), history, xlabel="epoch", ylabel="loss", yscale="log")

w = net[0].weight.data
print("w 的估计误差：", true_w - w.reshape(true_w.shape))
b = net[0].bias.data
print("b 的估计误差：", true_b - b)

# 与解析解（最小二乘）比较：差别只来自随机梯度下降没有完全收敛
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
# ## 小结
#
# * `DataLoader`、`nn.Linear`、`nn.MSELoss`、`torch.optim.SGD` 分别替代了上一节手写的
#   `data_iter`、`linreg`、`squared_loss`、`sgd`，训练循环的结构不变。
# * 高级 API 省事，但要清楚它们的约定：`MSELoss` 没有 1/2，默认对小批量求平均。
