"""What userspace binaries can call: the static syscall scan of Thumb-2 code."""
