"""Test doubles: a fake NVML, fake user models (with the GPU-free device checks in ../test_device_contract.py)."""
