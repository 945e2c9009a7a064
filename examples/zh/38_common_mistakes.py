# %% [markdown]
# # 常见错误：经典 bug 的复现、症状与修正
#
# 照着《动手学深度学习》第 3 章写线性回归和 softmax回归时，下面这些错误几乎人人都会碰到。
# 每一节先运行有 bug 的代码，给出症状（一个数字、一个形状、一条警告或一张图），再改正，
# 并用 `assert` 确认改对了：
#
# 1. 形状为 `(n, 1)` 的预测减去形状为 `(n,)` 的标签，广播成 `(n, n)`（分类问题里则是
#    `(n, 1)` 的标签）；
# 2. 学习率太大：损失越来越大，变成 `inf`，再变成 `nan`；
# 3. 忘了 `zero_grad`：梯度越积越多，损失降不下去；
# 4. `reduction="sum"`：步长随批量大小一起变大；
# 5. 把概率传给 `CrossEntropyLoss`（它要的是未规范化的预测）；
# 6. 模型和数据不在同一个设备上；
# 7. 过时的 `Variable` 和 `.data`：梯度悄悄算错。

# %%
import os
import sys
import warnings
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from torch import nn

from torchlinear import d2l, scratch

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "38_common_mistakes"
OUT.mkdir(parents=True, exist_ok=True)
print("图保存在", OUT.resolve())
torch.manual_seed(0)
features, labels = d2l.synthetic_data(torch.tensor([2, -3.4]), 4.2, 1000)  # 标签形状是 (1000, 1)
curves = {}  # 名称 -> (有 bug 的损失, 修正后的损失)，最后画图

# %% [markdown]
# ## 1. 列向量减行向量，得到的是矩阵
#
# `nn.Linear` 的输出形状是 `(n, 1)`。如果标签是 `(n,)`，`y_hat - y` 会广播成 `(n, n)`：
# 每个预测都和每个标签比了一遍。不报错，只是损失错了。（`nn.MSELoss` 至少会给个警告，见 3.3 节
# 的笔记本；自己写的损失函数一声不吭。）书里的 `squared_loss` 先 `y.reshape(y_hat.shape)`，
# 就是为此。

# %%
y_row = labels.reshape(-1)  # (1000,)
y_hat = features @ torch.tensor([[2.0], [-3.4]]) + 4.2  # 真实模型，形状 (1000, 1)
buggy = ((y_hat - y_row) ** 2 / 2).mean()
fixed = ((y_hat - y_row.reshape(y_hat.shape)) ** 2 / 2).mean()
print("y_hat - y 的形状：", tuple((y_hat - y_row).shape))
print(f"真实模型的损失：有 bug 时 {buggy:.3f}，修正后 {fixed:.2e}")
assert (y_hat - y_row).shape == (1000, 1000) and buggy > 10 and fixed < 1e-4
# 库里的损失函数已经这样做：先把标签变成预测的形状；个数对不上时直接报错
assert torch.allclose(scratch.squared_loss(y_hat, y_row).mean(), fixed)
try:
    scratch.squared_loss(y_hat, y_row[:999])
    raise AssertionError("999 labels for 1000 predictions must be refused")
except ValueError as error:
    print("scratch.squared_loss 报错：", error)

# %% [markdown]
# 分类问题里是反过来的：标签要的是形状 `(n,)` 的类别下标，可从表格里取出的一列常常是
# `(n, 1)`。书里的 `accuracy` 用 `y_hat.argmax(axis=1) == y` 比较，`(n,)` 与 `(n, 1)` 一比，
# 又是一个 `(n, n)` 矩阵：“正确个数”可以比样本数还多。书里的 `cross_entropy` 用
# `y_hat[range(n), y]` 取概率，同样会取出 `(n, n)` 个。`d2l.accuracy`、`scratch.accuracy`、
# `scratch.cross_entropy` 遇到这样的标签会直接报错，并告诉你怎么改。

# %%
O = torch.tensor([[2.0, 0.1, 0.3], [0.2, 1.5, 0.1], [0.3, 0.2, 0.1], [0.1, 0.2, 3.0]])
y_vec = torch.tensor([0, 1, 2, 2])  # 4 个样本，第 3 个预测错了
y_col = y_vec.reshape(-1, 1)  # 同样的标签，存成一列
book_count = float((O.argmax(axis=1) == y_col).sum())  # 书里 accuracy 的比较
right = d2l.accuracy(O, y_vec)
print(f"4 个样本，正确个数：标签为 (n,) 时 {right:.0f}，为 (n, 1) 时 {book_count:.0f}")
assert right == 3 and book_count == 5  # 5 > 4：比样本数还多
for check in (d2l.accuracy, scratch.accuracy, scratch.cross_entropy):
    try:
        check(torch.softmax(O, dim=1), y_col)
        raise AssertionError("a column of labels must be refused")
    except ValueError as error:
        message = str(error)
print(message)
assert "y.reshape(-1)" in message

# %% [markdown]
# ## 2. 学习率太大
#
# 每一步都冲过了最低点，而且冲过头的距离比上一步还大：权重按几何级数增长，溢出成 `inf`，
# 接着 `inf − inf` 得到 `nan`。`scratch.train`（以及简洁实现的训练函数和 `d2l.train_ch3`）
# 遇到这种情况会发出警告，写明所用的学习率。学习率只比上限（这里约为 1.84，见 3.2 节）大一点
# 时，三个迭代周期内损失还到不了 `inf`，却已经是起点的成千上万倍：这时同样会发出警告。
# 这些警告在每个迭代周期结束时才检查；3.2 节的笔记本演示了怎样在每一步检查，第 4 步就能发现。

# %%
w, b = scratch.init_params(2, generator=torch.Generator().manual_seed(0))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    big = scratch.train(features, labels, w, b, lr=300.0, epochs=3,
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
print("学习率 300 时的损失：", big)
print("警告：", caught[0].message)
assert all(not torch.isfinite(torch.tensor(v)) for v in big)
assert any(issubclass(c.category, scratch.NonFiniteLossWarning) for c in caught)
w, b = scratch.init_params(2, generator=torch.Generator().manual_seed(0))
good = scratch.train(features, labels, w, b, lr=0.03, epochs=3,
                     generator=torch.Generator().manual_seed(0))  # fmt: skip
print("学习率 0.03 时的损失：", [f"{v:.3g}" for v in good])
assert good[-1] < 1e-4
w, b = scratch.init_params(2, generator=torch.Generator().manual_seed(0))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    slightly = scratch.train(features, labels, w, b, lr=1.9, epochs=3,
                             generator=torch.Generator().manual_seed(0))  # fmt: skip
print("学习率 1.9 时的损失：", [f"{v:.3g}" for v in slightly])
print("警告：", caught[0].message)
assert all(torch.isfinite(torch.tensor(v)) for v in slightly) and slightly[-1] > 1e9
assert len(caught) == 1 and "lr=1.9" in str(caught[0].message)

# %% [markdown]
# ## 3. 忘了 `zero_grad`
#
# `backward()` 是把梯度**累加**到 `.grad` 上。不调用 `trainer.zero_grad()`，每一步用的都是
# 此前所有梯度之和，好比没有摩擦的动量，损失停在离最优点很远的地方。


# %%
def train_concise(zero_grad, reduction="mean", lr=0.03, batch_size=10, epochs=3):
    torch.manual_seed(1)
    net = nn.Linear(2, 1)
    nn.init.normal_(net.weight, std=0.01)
    nn.init.zeros_(net.bias)
    loss = nn.MSELoss(reduction=reduction)
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        for X, y in d2l.load_array((features, labels), batch_size):
            l = loss(net(X), y)
            if zero_grad:
                trainer.zero_grad()
            l.backward()
            trainer.step()
        with torch.no_grad():
            history.append(float(nn.functional.mse_loss(net(features), labels)))
    return history


forgot, remembered = train_concise(zero_grad=False), train_concise(zero_grad=True)
print(f"最后的损失：忘了 zero_grad 时 {forgot[-1]:.3g}，调用 zero_grad 时 {remembered[-1]:.3g}")
assert forgot[-1] > 100 * remembered[-1]
curves["3. forgetting zero_grad"] = (forgot, remembered)

# %% [markdown]
# ## 4. 学习率按平均损失调好，却用了 `reduction="sum"`
#
# 对小批量的损失求和，梯度（也就是步长）会乘上批量大小。对平均损失合适的学习率 0.03，
# 在批量 10 时相当于 0.3（更抖），在批量 100 时相当于 3，超过了发散阈值：`nn.MSELoss` 没有
# 1/2，阈值是 `1/λ_max ≈ 0.9`（3.2 节的 `2/λ_max` 的一半），损失随即爆炸。书中的 `sgd` 对
# `l.sum()` 求导后除以 `batch_size`，正是为了按平均来走。

# %%
A = torch.cat([features, torch.ones(len(features), 1)], 1).double()
limit = 1 / torch.linalg.eigvalsh(A.T @ A / len(A)).max().item()  # nn.MSELoss 的发散阈值
print(f"发散阈值 1/λ_max = {limit:.3f}：批量 10 时的 0.3 在它下面，批量 100 时的 3 在它上面")
assert 0.3 < limit < 3
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # 发散时的溢出警告
    summed = train_concise(True, reduction="sum", batch_size=100)
averaged = train_concise(True, reduction="mean", batch_size=100)
print(f"批量 100、学习率 0.03，最后的损失：'sum' 时 {summed[-1]:.3g}，'mean' 时 {averaged[-1]:.3g}")
assert not (summed[-1] < 1.0) and averaged[-1] < 1.0
curves["4. reduction='sum', batch 100"] = (summed, averaged)

# %% [markdown]
# ## 5. 把概率传给 `CrossEntropyLoss`
#
# `nn.CrossEntropyLoss` 自己会做 log-softmax，它要的是**未规范化的预测**。先做一次
# softmax 再传进去，等于做了两次 softmax：即便预测完全正确，损失也降不到
# `log(1 + (k−1)/e)` 以下（10 类时是 1.46，3 类时是 0.55），损失曲线停在这层“地板”上，
# 梯度也被压扁了。

# %%
k = 10
perfect_probs = torch.eye(k)  # 最有把握的正确预测
targets = torch.arange(k)
floor = nn.CrossEntropyLoss()(perfect_probs, targets)
print(f"把完全正确的预测当作概率传进去，损失是 {floor:.4f}")
assert torch.isclose(floor, torch.log(torch.tensor(1 + (k - 1) / torch.e)))


def train_softmax(double_softmax, epochs=10):
    torch.manual_seed(0)
    X = torch.randn(500, 5)
    y = (X @ torch.randn(5, 3)).argmax(dim=1)
    net = nn.Linear(5, 3)
    trainer = torch.optim.SGD(net.parameters(), lr=0.5)
    loss, history = nn.CrossEntropyLoss(), []
    for _ in range(epochs):
        for Xb, yb in d2l.load_array((X, y), 50):
            out = net(Xb)
            l = loss(torch.softmax(out, dim=1) if double_softmax else out, yb)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        with torch.no_grad():  # 训练代码自己算出的损失
            out = net(X)
            history.append(float(loss(torch.softmax(out, dim=1) if double_softmax else out, y)))
    return history


double, single = train_softmax(True), train_softmax(False)
floor3 = torch.log(torch.tensor(1 + 2 / torch.e)).item()  # 这里是 3 类
print(
    f"训练后报告的损失：传概率 {double[-1]:.3f}（下限 {floor3:.3f}），"
    f"传未规范化的预测 {single[-1]:.3f}"
)
assert min(double) >= floor3 > single[-1]
curves["5. probabilities into CrossEntropyLoss"] = (double, single)

# %% [markdown]
# ## 6. 模型和数据不在同一个设备上
#
# 在有 GPU 的机器上，典型的报错是 *"Expected all tensors to be on the same device"*。
# 这里用 `meta` 设备在任何机器上复现同一类错误。改法：定义一个 `device` 变量，
# 模型和每个小批量都 `.to(device)`。

# %%
net = nn.Linear(2, 1, device="meta")
try:
    net(features)
    raise AssertionError("a model and data on different devices must fail")
except RuntimeError as error:
    print("报错：", error)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
net = nn.Linear(2, 1).to(device)
assert net(features.to(device)).shape == (1000, 1)

# %% [markdown]
# ## 7. 过时的 `Variable` 和 `.data`
#
# 从 PyTorch 0.4 起，`torch.autograd.Variable(x)` 什么也不做，返回的就是普通张量。
# `.data` 还能用，但对它的修改自动微分看不见：改动了反向传播要用的张量，梯度就会
# **悄悄算错**。`.detach()` 同样共享内存，但自动微分会发现改动，直接报错。

# %%
x = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
assert type(torch.autograd.Variable(x)) is torch.Tensor
out = x.sigmoid()  # sigmoid 的反向传播要用输出 s：梯度 = s(1 − s)
out.data.zero_()  # bug：背着自动微分改了 s
out.sum().backward()
true_grad = torch.sigmoid(x.detach()) * (1 - torch.sigmoid(x.detach()))
print(".data.zero_() 之后算出的梯度：", x.grad, "\n正确的梯度：", true_grad)
assert torch.equal(x.grad, torch.zeros(3)) and not torch.allclose(x.grad, true_grad)
x.grad = None
out = x.sigmoid()
try:
    out.detach().zero_()
    out.sum().backward()
    raise AssertionError(".detach() should make backward refuse")
except RuntimeError as error:
    print("改用 .detach()：", str(error).splitlines()[0][:110])

# %% [markdown]
# ## 损失曲线：有 bug 与修正后对比

# %%
fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.4))
for ax, (name, (bad, fix)) in zip(axes, curves.items(), strict=True):
    epochs = range(1, len(bad) + 1)
    finite_bad = [v if abs(v) < 1e30 else float("nan") for v in bad]
    ax.semilogy(epochs, finite_bad, "r-o", ms=3, label="buggy")
    ax.semilogy(epochs, fix, "g-o", ms=3, label="fixed")
    ax.set_title(name, fontsize=10)
    ax.set_xlabel("epoch")
    ax.legend()
axes[0].set_ylabel("training loss")
fig.tight_layout()
fig.savefig(OUT / "buggy_vs_fixed.png", dpi=100)
print("已保存", OUT / "buggy_vs_fixed.png")
