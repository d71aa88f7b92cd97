"""Where a run computes and with which speed-ups: AMP, channels_last, torch.compile."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from .. import runtime
from .distributed import local_device


@dataclass
class DevicePolicy:
    """The device and its speed-ups (None in ``choose`` means: on for CUDA, off elsewhere)."""

    device: torch.device
    amp: bool = False
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def choose(cls, device=None, amp=None, channels_last=None, compile=None) -> "DevicePolicy":
        device = local_device(runtime.pick_device() if device is None else torch.device(device))
        pick = (lambda flag: device.type == "cuda" if flag is None else bool(flag))
        return cls(device, pick(amp), pick(channels_last), pick(compile))

    @property
    def amp_dtype(self) -> torch.dtype:
        if self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return torch.float16
        return torch.bfloat16

    @property
    def name(self) -> str:
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return str(self.device)

    def autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling, needed (and on) only for float16 autocast."""
        on = self.amp and self.amp_dtype == torch.float16
        return torch.amp.GradScaler(self.device.type, enabled=on)

    def inputs(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        model = model.to(self.device)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model
