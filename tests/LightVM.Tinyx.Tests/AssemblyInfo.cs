// These tests drive Linux tools (gcc, ldd, cpio, QEMU) and Linux file modes.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
