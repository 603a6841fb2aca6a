"""micrograd's classic demo at tensor level: an MLP separates two interleaved half-moons."""

import numpy as np

import engine
import nn
import nn.functional as F
from engine import Tensor


def make_moons(n, noise, rng):
    """n points on two interleaved half-circles (labels 0 and 1), with Gaussian noise."""
    angle = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label == 0, np.cos(angle), 1 - np.cos(angle))
    y = np.where(label == 0, np.sin(angle), 0.5 - np.sin(angle))
    points = np.stack([x, y], axis=1) + rng.normal(0, noise, (n, 2))
    return points.astype(np.float32), label


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 32)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 2)

    def forward(self, x):  # (N, 2) -> (N, 2) logits
        return self.fc3(F.relu(self.fc2(self.act(self.fc1(x)))))


def test_mlp_learns_two_moons():
    engine.manual_seed(0)
    rng = np.random.default_rng(0)
    points, labels = make_moons(400, 0.1, rng)
    test_points, test_labels = make_moons(400, 0.1, rng)
    model = MLP()
    opt = nn.optim.AdamW(model.parameters(), lr=0.01, weight_decay=1e-4)
    for step in range(300):
        lr = nn.optim.lr_scheduler.cosine_with_warmup(step, 0.02, 0.002, 20, 280)
        opt.param_groups[0]["lr"] = lr
        loss = F.cross_entropy(model(Tensor(points)), labels)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    model.eval()
    with engine.no_grad():
        predicted = model(Tensor(test_points)).data.argmax(axis=1)
    assert (predicted == test_labels).mean() >= 0.95
    assert loss.item() < 0.1
