# %% [markdown]
# # 练习 3.7 softmax回归的简洁实现
#
# 《动手学深度学习》3.7 节的练习：
#
# 1. 尝试调整超参数，例如批量大小、迭代周期数和学习率，看看结果如何。
# 2. 增加迭代周期的数量。为什么测试的结果会在一段时间后变差？怎么解决？
#
# 第 1 题的学习率部分见 3.2 节练习 2，批量大小见 `examples/03_learning_rate_batch_size.py`；
# 这里做第 2 题。为了在几秒内看清楚，我们不用 Fashion-MNIST，而用一个特征比样本还多的小数据集
# （100 个特征、80 个训练样本、3 个类别，标签带噪声），这正是最容易过拟合的情形。

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

OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "37_softmax_regression_concise"
OUT.mkdir(parents=True, exist_ok=True)
print("图保存在", OUT.resolve())  # 图里的文字用英文：默认字体没有中文字形

generator = torch.Generator().manual_seed(0)
num_inputs, num_outputs = 100, 3
teacher = torch.randn(num_outputs, num_inputs, generator=generator)


def make_data(n):
    """标签按 softmax(X·teacherᵀ) 随机抽取：同样的特征也可能属于不同的类别。"""
    X = torch.randn(n, num_inputs, generator=generator)
    probs = torch.softmax(2.0 * X @ teacher.T / num_inputs**0.5, dim=1)
    return X, torch.multinomial(probs, 1, generator=generator).flatten()


X_train, y_train = make_data(80)
X_test, y_test = make_data(2000)

# %% [markdown]
# ## 练习 2：迭代周期越多，测试结果越差？
#
# <details><summary>提示</summary>
#
# 特征有 100 个、训练样本只有 80 个：总能找到一组权重把训练集分得完全正确。此后继续训练，
# 训练损失还能怎样下降？权重的大小会怎样变化？模型对测试样本的“把握”呢？
# </details>
#
# <details><summary>解答</summary>
#
# 训练集可以被完全分开，交叉熵损失就能一直降向 0，但只有让权重越来越大、未规范化的预测
# 越来越极端才做得到。模型开始“背下”训练集里的噪声：训练损失一路下降，测试损失先降后升，
# 对测试集上错的那些样本越来越自信地错下去。这就是**过拟合**。测试损失最低的那个迭代周期之后，
# 再训练只会更差。在这个数据集上测试精度没有明显下降，只是停在 0.48 附近不再上升（精度只看
# argmax，不管模型多自信）；数据更少、噪声更多时，精度也会下降。解决办法：用验证集挑迭代
# 周期数（早停）、加权重衰减（L2 正则化），或者收集更多数据。下面给损失函数加上权重衰减
# 再训练一次，它的测试损失不再上升。
# </details>


# %%
def train(weight_decay=0.0, num_epochs=400, lr=0.05):
    torch.manual_seed(0)
    net = nn.Linear(num_inputs, num_outputs)
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=weight_decay)
    history = {"train loss": [], "test loss": [], "test accuracy": [], "weight norm": []}
    for _ in range(num_epochs):  # 训练集很小：每个迭代周期只有一个小批量
        trainer.zero_grad()
        l = loss(net(X_train), y_train)
        l.backward()
        trainer.step()
        with torch.no_grad():
            O_test = net(X_test)  # 测试集上未规范化的预测：损失和精度都由它算
            history["train loss"].append(loss(net(X_train), y_train).item())
            history["test loss"].append(loss(O_test, y_test).item())
            accuracy = (O_test.argmax(1) == y_test).float().mean().item()
            history["test accuracy"].append(accuracy)
            history["weight norm"].append(net.weight.norm().item())
    train_accuracy = (net(X_train).argmax(1) == y_train).float().mean().item()
    return history, train_accuracy


plain, train_accuracy = train()
test_loss = torch.tensor(plain["test loss"])
best = int(test_loss.argmin())
print(f"训练精度 {train_accuracy:.2f}；训练损失 {plain['train loss'][-1]:.3f}")
print(f"测试损失在第 {best + 1} 个迭代周期最低（{test_loss[best]:.3f}），", end="")
print(f"400 个迭代周期之后是 {test_loss[-1]:.3f}")
print(f"权重的范数从 {plain['weight norm'][0]:.2f} 涨到 {plain['weight norm'][-1]:.2f}")
assert train_accuracy == 1.0, "训练集被完全分开"
assert all(a > b for a, b in zip(plain["train loss"], plain["train loss"][1:], strict=False))
assert best < 100 and test_loss[-1] > 1.2 * test_loss[best], "测试损失先降后升：过拟合"
assert plain["weight norm"][-1] > 3 * plain["weight norm"][0]

decayed, _ = train(weight_decay=0.2)
decayed_loss = torch.tensor(decayed["test loss"])
print(f"加权重衰减 0.2：测试损失最后是 {decayed_loss[-1]:.3f}（最低 {decayed_loss.min():.3f}）")
assert decayed_loss[-1] < test_loss[-1] and decayed_loss[-1] < 1.05 * decayed_loss.min()
accuracies = plain["test accuracy"][-1], decayed["test accuracy"][-1]
print("测试精度：不加权重衰减 {:.3f}，加权重衰减 {:.3f}".format(*accuracies))
assert decayed["test accuracy"][-1] > plain["test accuracy"][-1]

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].plot(plain["train loss"], color="tab:blue", label="train loss")
axes[0].plot(plain["test loss"], color="tab:orange", label="test loss")
axes[0].plot(decayed["test loss"], "--", color="tab:green", label="test loss, weight decay 0.2")
axes[0].axvline(best, color="tab:red", ls=":", label=f"lowest test loss (epoch {best + 1})")
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("cross-entropy loss")
axes[0].set_title("100 features, 80 training examples: overfitting")
axes[0].legend(fontsize=8)
axes[1].plot(plain["test accuracy"], color="tab:orange", label="no weight decay")
axes[1].plot(decayed["test accuracy"], "--", color="tab:green", label="weight decay 0.2")
axes[1].set_xlabel("epoch")
axes[1].set_ylabel("test accuracy")
axes[1].set_title("test accuracy (3 classes, noisy labels)")
axes[1].legend(fontsize=8)
fig.savefig(OUT / "overfitting.png", dpi=100, bbox_inches="tight")
print("已保存", OUT / "overfitting.png")
