# %% [markdown]
# # 3.1 线性回归
#
# 本笔记本配合《动手学深度学习》（PyTorch 版）第 3 章“线性神经网络”的 3.1 节阅读。书里的
# 代码照原样运行：`from torchlinear import d2l` 提供了书中的 `d2l.Timer`、`d2l.plot` 等辅助函数。
# 这一节没有训练循环，我们把书里的几个论断逐一用代码验证：
#
# 1. 线性模型 `ŷ = Xw + b` 的平方损失有**解析解**，与 `torch.linalg.lstsq` 的结果相同；
# 2. **矢量化**：一次矩阵运算比 Python 循环快得多，结果一模一样；
# 3. 在高斯噪声的假设下，**最小化平方损失等价于极大似然估计**。
#
# 每个论断后面都有 `assert`：笔记本能跑完，就说明书里说的成立。

# %%
import math
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import numpy as np
import torch
from scipy.optimize import minimize

from torchlinear import d2l

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "31_linear_regression"
OUT.mkdir(parents=True, exist_ok=True)
d2l.set_figure_dir(OUT)  # 脚本里 d2l 画的图存成 PNG，放在这个文件夹
print("图保存在", OUT.resolve())

# %% [markdown]
# ## 解析解
#
# 把偏置 `b` 并进参数（给 `X` 补一列 1）后，平方损失 `‖y − Xw‖²` 的最小值点满足正规方程
# `XᵀX w = Xᵀy`；`XᵀX` 可逆时，解就是书中的 `w* = (XᵀX)⁻¹Xᵀy`。线性回归有这样的解析解，
# 深度学习里的大多数模型却没有，所以后面几节都用**小批量随机梯度下降**。

# %%
torch.manual_seed(0)
features, labels = d2l.synthetic_data(torch.tensor([2, -3.4]), 4.2, 1000)
X = torch.cat([features, torch.ones(len(features), 1)], dim=1).double()
y = labels.double()
w_formula = torch.linalg.inv(X.T @ X) @ X.T @ y  # 书上的公式
w_lstsq = torch.linalg.lstsq(X, y).solution  # 数值上更稳妥的做法
print("解析解 (w1, w2, b):", [round(v, 4) for v in w_formula.flatten().tolist()])
assert torch.allclose(w_formula, w_lstsq, atol=1e-10)
assert torch.allclose(w_formula.flatten(), torch.tensor([2, -3.4, 4.2]).double(), atol=0.01)

# %% [markdown]
# ## 矢量化加速
#
# 书中用 `d2l.Timer` 比较两种把两个向量相加的写法：for 循环逐个相加，和一次 `a + b`。

# %%
n = 10000
a, b = torch.ones([n]), torch.ones([n])
c = torch.zeros(n)
timer = d2l.Timer()
for i in range(n):
    c[i] = a[i] + b[i]
t_loop = timer.stop()
timer.start()
d = a + b
t_vec = timer.stop()
print(f"循环：{t_loop:.5f} 秒；矢量化：{t_vec:.5f} 秒，快了约 {t_loop / t_vec:.0f} 倍")
assert torch.equal(c, d) and t_vec < t_loop

# %% [markdown]
# ## 正态分布与平方损失
#
# 书中画了三条均值、标准差各不相同的正态分布密度曲线。改变均值，曲线沿 x 轴平移；
# 增大方差，曲线变矮、变宽。


# %%
def normal(x, mu, sigma):
    p = 1 / math.sqrt(2 * math.pi * sigma**2)
    return p * np.exp(-0.5 / sigma**2 * (x - mu) ** 2)


x = np.arange(-7, 7, 0.01)
params = [(0, 1), (0, 2), (3, 1)]
legend = [f"mean {mu}, std {sigma}" for mu, sigma in params]
d2l.plot(x, [normal(x, mu, sigma) for mu, sigma in params], xlabel="x", ylabel="p(x)",
         figsize=(4.5, 2.5), legend=legend)  # fmt: skip
# 每条曲线下的面积都是 1（数值积分）；峰值在 x = μ 处，高度是 1/(σ√(2π))：σ 加倍，峰值减半
for mu, sigma in params:
    p = normal(x, mu, sigma)
    assert abs(p.sum() * 0.01 - 1) < 1e-3
    assert abs(x[p.argmax()] - mu) < 0.01
    assert math.isclose(p.max(), 1 / (sigma * math.sqrt(2 * math.pi)))

# %% [markdown]
# 若 `y = Xw + b + ε`，噪声 `ε ~ N(0, σ²)`，则 `n` 个样本的负对数似然是
#
# `−log P(y | X) = Σ_i [½ log(2πσ²) + (1/(2σ²)) (y⁽ⁱ⁾ − wᵀx⁽ⁱ⁾ − b)²]`。
#
# 第一项与 `w`、`b` 无关；第二项是平方损失之和乘以一个正的常数 `1/σ²`。所以不论 `σ` 是多少，
# 使似然最大的 `w`、`b` 就是使平方损失最小的 `w`、`b`：**极大似然估计就是最小化平方损失**。
# 下面直接用数值方法最大化似然（同时估计 `σ`），看结果是否落在解析解上。

# %%
Xn, yn = X.numpy(), y.numpy().ravel()


def neg_log_likelihood(theta):
    w, log_sigma = theta[:3], theta[3]
    r = yn - Xn @ w
    return len(yn) * (0.5 * math.log(2 * math.pi) + log_sigma) + 0.5 * (r @ r) * math.exp(
        -2 * log_sigma
    )


mle = minimize(neg_log_likelihood, np.array([0.0, 0.0, 0.0, 0.0]), method="BFGS",
               options={"gtol": 1e-8})  # fmt: skip
sigma_mle = math.exp(mle.x[3])
print("极大似然的 (w1, w2, b):", np.round(mle.x[:3], 4), f"σ 的估计：{sigma_mle:.4f}")
assert np.allclose(mle.x[:3], w_lstsq.numpy().ravel(), atol=1e-4)
# σ 的极大似然估计是残差的均方根；生成数据时用的是 0.01
residual = yn - Xn @ w_lstsq.numpy().ravel()
assert abs(sigma_mle - np.sqrt(np.mean(residual**2))) < 1e-4 and abs(sigma_mle - 0.01) < 1e-3

# %% [markdown]
# ## 小结
#
# * 线性回归有解析解，但后面的训练都用小批量随机梯度下降——它也适用于没有解析解的模型。
# * 矢量化把循环交给底层库，快且结果相同。
# * 高斯噪声假设下，最小化平方损失就是极大似然估计；这正是平方损失的来历。

# %% [markdown]
# ## 练习
#
# 本节的练习见
# [`31_linear_regression.py`](../exercises/31_linear_regression.py)。
# 每道题都有提示、解答和验证答案的代码；先自己想，再去看。练习的内容：
#
# * 使 `Σ(x_i − b)²` 最小的 `b` 为什么是平均值；
# * 平方误差的解析解，它什么时候不唯一，什么时候比随机梯度下降好；
# * 噪声服从拉普拉斯分布时，极大似然估计为什么变成了中位数；用固定学习率的随机梯度下降求它，
#   为什么停不下来。
