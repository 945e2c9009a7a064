# %% [markdown]
# # 3.6 softmax回归的从零开始实现
#
# 配合《动手学深度学习》3.6 节。下面是书里的代码：初始化参数、定义 softmax、定义模型和
# 交叉熵损失、分类精度、训练、预测。书中定义后放进 `d2l` 的函数（`Accumulator`、`accuracy`、
# `evaluate_accuracy`、`train_epoch_ch3`、`Animator`、`train_ch3`、`predict_ch3`）由
# `from torchlinear import d2l` 提供，直接调用。
#
# 注意 `d2l.accuracy` 返回的是**预测正确的个数**，不是比例；比例由 `evaluate_accuracy`
# 除以样本总数得到。`d2l.train_ch3` 在脚本里把动画的最后一帧存成 PNG。

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import torch

from torchlinear import d2l

sys.path.insert(0, str(Path.cwd()))
if "__file__" in globals():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fashion_standin import use_standin_if_missing  # noqa: E402

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "36_softmax_regression_scratch"
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
# 每张 28×28 的图像展平成长度 784 的向量；10 个类别，所以权重是 784×10 的矩阵，偏置是
# 长度 10 的行向量。

# %%
num_inputs = 784
num_outputs = 10

W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
b = torch.zeros(num_outputs, requires_grad=True)

# %% [markdown]
# ## 定义 softmax 操作和模型


# %%
def softmax(X):
    X_exp = torch.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition  # 这里应用了广播机制


X = torch.normal(0, 1, (2, 5))
X_prob = softmax(X)
print(X_prob, X_prob.sum(1))
assert torch.allclose(X_prob.sum(1), torch.ones(2))


def net(X):
    return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)


# %% [markdown]
# ## 定义损失函数
#
# `y_hat[range(len(y_hat)), y]` 用真实类别的下标，一次取出每个样本预测给真实类别的概率。

# %%
y = torch.tensor([0, 2])
y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
print(y_hat[[0, 1], y])


def cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y])


print(cross_entropy(y_hat, y))
assert torch.allclose(cross_entropy(y_hat, y), -torch.log(torch.tensor([0.1, 0.5])))

# %% [markdown]
# ## 分类精度
#
# 第一个样本这一行最大的是 0.6，预测类别是 2，而标签是 0：错了；第二个样本预测类别也是 2，
# 标签正是 2：对了。所以正确个数是 1，精度是 0.5。随机初始化的模型在 10 个类别上的精度应该
# 接近 0.1。

# %%
print(d2l.accuracy(y_hat, y) / len(y))
assert d2l.accuracy(y_hat, y) == 1.0
acc0 = d2l.evaluate_accuracy(net, test_iter)
print(f"未训练时的测试精度：{acc0:.3f}")
assert acc0 < 0.3

# %% [markdown]
# ## 训练
#
# `updater` 用 3.2 节的小批量随机梯度下降 `d2l.sgd`，学习率 0.1。书里训练 10 个迭代周期，
# 快速模式下少跑几个。

# %%
lr = 0.1


def updater(batch_size):
    return d2l.sgd([W, b], lr, batch_size)


num_epochs = 3 if FAST else 10
train_loss, train_acc, test_acc = d2l.train_ch3(
    net, train_iter, test_iter, cross_entropy, num_epochs, updater
)
print(f"训练损失 {train_loss:.3f}，训练精度 {train_acc:.3f}，测试精度 {test_acc:.3f}")
if STANDIN and train_acc > 0.9:  # 书里的 Animator 把纵轴固定在 [0.3, 0.9]
    print("替身数据比 Fashion-MNIST 容易得多：精度接近 1，超出了图的纵轴范围 [0.3, 0.9]，")
    print("曲线因此跑到了图外；在真实数据上，三条曲线都落在这个范围里。")
# 书中在真实数据上检查：训练损失 < 0.5，训练和测试精度 > 0.7
assert train_loss < 0.5 and train_acc > 0.7 and test_acc > 0.7

# %% [markdown]
# ## 预测
#
# 每张图上方第一行是真实标签，第二行是模型的预测。

# %%
preds = d2l.predict_ch3(net, test_iter)
print("前 6 个测试样本的预测：", preds)
X_test, y_test = next(iter(test_iter))
assert preds == d2l.get_fashion_mnist_labels(net(X_test[:6]).argmax(axis=1))

# %% [markdown]
# ## 小结
#
# * softmax回归的从零实现：把图像展平，算 `softmax(XW + b)`；交叉熵用“按真实类别的下标取出
#   预测的概率”一步算出。
# * `d2l.accuracy` 返回预测正确的个数，除以样本数才是精度；训练前的精度约为 1/类别数。
# * 这里的 `softmax` 和 `cross_entropy` 直接按定义实现，输入很大或概率为 0 时会出问题；3.7 节
#   和本节的练习给出解决办法。

# %% [markdown]
# ## 练习
#
# 本节的练习见
# [`36_softmax_regression_scratch.py`](../exercises/36_softmax_regression_scratch.py)。
# 每道题都有提示、解答和验证答案的代码；先自己想，再去看。练习的内容：
#
# * 直接按定义实现 softmax 时的上溢；
# * `cross_entropy` 里的 `log 0`；
# * 总是取概率最大的类别，一定最好吗；
# * 预测下一个单词时，词表很大会带来什么问题。
