"""kqual: build, boot and qualify shrunk Linux kernels for Cortex-M under QEMU."""
