# %% [markdown]
# # 多台机器一起训练：参数服务器与环形全归约
#
# 学完第 3 章，《动手学深度学习》后面的“多GPU训练”和“参数服务器”两节会讲到：数据太多时，
# 可以让 `N` 个工作节点各算一部分小批量的梯度，再把这些梯度平均起来，大家用同一个平均梯度更新
# 参数（**数据并行**）。平均的办法有两种：
#
# * **参数服务器**：每个工作节点把自己的梯度（`d` 个数）发给服务器，服务器求平均、更新参数，
#   再把新参数发回去。每个工作节点发送 `d` 个数，和 `N` 无关；但服务器要接收 `N·d` 个数，
#   `N` 一大它就成了瓶颈。
# * **环形全归约**（ring all-reduce）：把梯度切成 `N` 段，工作节点围成一个环，每次只把一段传给
#   右边的邻居：`N − 1` 次边传边加（reduce-scatter），再 `N − 1` 次把加好的段传一圈
#   （all-gather）。每个节点发送 `2(N − 1)/N · d` 个数，`N` 再大也不超过 `2d`，没有瓶颈。
#
# `torchlinear.scratch.parallel` 在一个进程里模拟这两种训练器。下面验证三件事：它们走的每一步
# 都和单进程的小批量随机梯度下降完全相同；环形全归约数出来的字节数等于公式；最后画出每个
# 节点每步发送的字节数随 `N` 的变化。

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # 作为脚本运行时只存图、不弹窗
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from torchlinear.scratch.parallel import bytes_per_step, ring_allreduce, train_data_parallel

OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "39_distributed_training"
OUT.mkdir(parents=True, exist_ok=True)
print("图保存在", OUT.resolve())  # 图里的文字用英文：默认字体没有中文字形

rng = np.random.default_rng(0)
X = rng.normal(size=(1000, 2))
y = X @ np.array([2.0, -3.4]) + 4.2 + 0.01 * rng.normal(size=1000)

# %% [markdown]
# ## 和单进程的小批量随机梯度下降逐步相同
#
# 每个小批量（40 个样本）平均分给 4 个工作节点，每个节点算 10 个样本的平均梯度。4 个平均梯度
# 再平均，正好是 40 个样本的平均梯度，所以两种训练器的每一步都应与单进程的训练一模一样。
# 单进程的版本我们自己写在下面（学习率 0.03、2 个迭代周期、同样的随机顺序），作为独立的参照。


# %%
def single_process_sgd(X, y, lr=0.03, batch_size=40, epochs=2, seed=0):
    A = np.hstack([X, np.ones((len(X), 1))])  # 偏置当作一列 1
    theta = np.zeros(3)
    order_rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = order_rng.permutation(len(A))
        for start in range(0, len(A) - batch_size + 1, batch_size):
            batch = order[start : start + batch_size]
            theta = theta - lr * A[batch].T @ (A[batch] @ theta - y[batch]) / batch_size
    return theta


reference = single_process_sgd(X, y)
for method in ("parameter_server", "ring"):
    theta, traffic = train_data_parallel(X, y, method=method, num_workers=4)
    # d = 3 个参数分不成 4 段等长的块，所以环形全归约下各节点发送的字节数略有不同
    print(f"{method:>16}: θ = {np.round(theta, 4)}，第一步每个节点发送的字节数 {traffic[0]}")
    assert np.allclose(theta, reference, rtol=0, atol=1e-12)
print("单进程小批量随机梯度下降：θ =", np.round(reference, 4))

# %% [markdown]
# ## 环形全归约：结果与字节数
#
# 8 个节点、每个梯度 `d = 64` 个 float64：每个节点都应得到全部梯度之和，每个节点发送
# `2·(8 − 1)/8 · 64 · 8 = 896` 字节。

# %%
n, d = 8, 64
grads = [rng.normal(size=d) for _ in range(n)]
sums, sent = ring_allreduce(grads)
assert all(np.allclose(s, np.sum(grads, axis=0), rtol=0, atol=1e-12) for s in sums)
assert sent == [2 * (n - 1) * (d // n) * 8] * n == [896] * n
assert bytes_per_step("ring", d, n) == 896
print("每个节点都得到了梯度之和；每个节点发送", sent[0], "字节")

# %% [markdown]
# ## 每个节点每步发送多少字节
#
# 一个有一百万个参数（float64）的模型：参数服务器下每个工作节点发送 8 MB，服务器接收
# `N × 8` MB；环形全归约下每个节点发送 `2(N − 1)/N × 8` MB，`N` 增大时趋近 16 MB，不再增长。

# %%
workers = np.arange(2, 33)
params = 1_000_000
fig, ax = plt.subplots(figsize=(6.5, 3.8))
ring = [bytes_per_step("ring", params, int(k)) / 1e6 for k in workers]
server = [bytes_per_step("parameter_server", params, int(k)) / 1e6 for k in workers]
ax.plot(workers, server, "o-", ms=3, label="parameter server: each worker sends")
ax.plot(workers, workers * 8 * params / 1e6, "k--", lw=1, label="parameter server: server receives")
ax.plot(workers, ring, "s-", ms=3, label="ring all-reduce: each worker sends")
ax.set_yscale("log")
ax.set_xlabel("number of workers N")
ax.set_ylabel("MB per training step")
ax.set_title(f"{params:,} float64 parameters: bytes per step")
ax.legend(fontsize=8)
fig.savefig(OUT / "bytes_per_worker.png", dpi=100, bbox_inches="tight")
print("已保存", OUT / "bytes_per_worker.png")
assert max(ring) < 2 * 8 * params / 1e6 and ring[-1] > ring[0]
