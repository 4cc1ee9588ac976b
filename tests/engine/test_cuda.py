"""The CUDA paths: mixed precision, channels_last, GPU-resident data, GPU scoring.

Marked ``cuda``; skipped without a GPU (see tests/conftest.py). Run them with
``python -m pytest -q -m cuda tests`` (bench/gpu_check.sh does).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from svp.config import DataConfig, ModelConfig
from svp.data import open_dataset
from svp.engine import device as device_module
from svp.engine.device import autocast, grad_scaler, prepare_model, to_model_layout
from svp.engine.fit import _Step, fit, make_optimizer
from svp.engine.predict import predict
from svp.models import create_model

pytestmark = pytest.mark.cuda

CUDA = torch.device("cuda") if torch.cuda.is_available() else None


@pytest.fixture(scope="module")
def data(cifar_dir):
    return open_dataset(DataConfig(dataset="cifar10", datasets_dir=str(cifar_dir)))


def small_cnn(device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    return prepare_model(create_model("small-cnn-16", 10, 3), device)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_mixed_precision_step_gives_finite_loss(data, monkeypatch, dtype):
    if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    monkeypatch.setattr(device_module, "amp_dtype", lambda device: dtype)
    model = small_cnn(CUDA)
    config = ModelConfig(arch="small-cnn-16", epochs=(1,), learning_rates=(0.05,), batch_size=32)
    scaler = grad_scaler(CUDA, True)
    assert scaler.is_enabled() == (dtype == torch.float16)  # loss scaling for fp16 only
    step = _Step(model, make_optimizer(model, config), torch.nn.CrossEntropyLoss(), scaler, CUDA, True)
    with autocast(CUDA, True):
        assert model(to_model_layout(torch.zeros(2, 3, 32, 32, device=CUDA))).dtype == dtype
    for x, y, _ in data.batches("train", np.arange(128), 32, train=True, device=CUDA):
        loss, correct = step(x, y)
        assert torch.isfinite(loss).item() and correct.shape == (32,)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_fit_with_fp16_on_gpu(data):
    config = ModelConfig(arch="small-cnn-16", epochs=(2,), learning_rates=(0.05,), batch_size=32, fp16=True)
    result = fit(small_cnn(CUDA), data, np.arange(200), config, device=CUDA, dev_indices=np.arange(200, 260))
    assert next(result.model.parameters()).is_cuda
    assert 0 <= result.train_accuracy <= 1 and 0 <= result.dev_accuracy <= 1 and 0 <= result.test_accuracy <= 1


def test_conv_models_use_channels_last_on_gpu():
    conv = small_cnn(CUDA)
    first = next(m for m in conv.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.weight.is_contiguous(memory_format=torch.channels_last)
    mlp = prepare_model(create_model("mlp", 10, 3), CUDA)
    assert all(p.is_contiguous() for p in mlp.parameters())
    x = to_model_layout(torch.zeros(4, 3, 32, 32, device=CUDA))
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_tensor_data_batches_stay_on_gpu(data):
    batches = list(data.batches("train", np.arange(70), 32, train=True, device=CUDA))
    assert [len(y) for _, y, _ in batches] == [32, 32, 6]
    assert all(x.is_cuda and y.is_cuda and x.dtype == torch.float32 for x, y, _ in batches)
    inputs, _ = data._resident("train", CUDA)
    assert inputs.is_cuda and inputs.dtype == torch.uint8
    list(data.batches("train", np.arange(10), 32, device=CUDA))
    assert data._resident("train", CUDA)[0] is inputs  # copied to the GPU once


def test_gpu_scores_match_cpu(data):
    pool = np.arange(3, 303)
    cpu_out = predict(small_cnn(torch.device("cpu")), data, pool, batch_size=64, device=torch.device("cpu"),
                      features=True)
    gpu_out = predict(small_cnn(CUDA), data, pool, batch_size=64, device=CUDA, features=True)
    # cuDNN may use TF32 convolutions: agreement to ~1e-3, not bit for bit
    np.testing.assert_allclose(gpu_out.probs, cpu_out.probs, atol=2e-3)
    np.testing.assert_allclose(gpu_out.features, cpu_out.features, rtol=1e-2, atol=1e-2)
    amp_out = predict(small_cnn(CUDA), data, pool, batch_size=64, device=CUDA, amp=True)
    assert amp_out.probs.dtype == np.float32
    np.testing.assert_allclose(amp_out.probs.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(amp_out.probs, cpu_out.probs, atol=3e-2)


@pytest.mark.cuda
def test_a_split_too_large_for_the_gpu_stays_in_host_memory(data, monkeypatch):
    resident = [b for b in data.batches("train", np.arange(70), 32, device=CUDA)]
    monkeypatch.setattr("svp.data.base.fits_on_device", lambda tensor, device: False)
    data._on_device.clear()
    streamed = [b for b in data.batches("train", np.arange(70), 32, device=CUDA)]
    assert not data._resident("train", CUDA)[0].is_cuda  # left where it was
    for (x, y, i), (xs, ys, js) in zip(resident, streamed):
        assert xs.is_cuda and ys.is_cuda and torch.equal(x, xs) and torch.equal(y, ys) and torch.equal(i, js)
