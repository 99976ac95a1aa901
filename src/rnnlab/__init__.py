"""rnnlab: the lecture "RNN: recurrent neural networks (part 1)" as a reproducible pipeline."""

import os

# Offline by default: no tool may phone home. Users can still override each variable.
for _key, _value in {
    "GX_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
}.items():
    os.environ.setdefault(_key, _value)



def _pin_cpu_isa() -> None:
    """The same numbers on every x86-64 machine with AVX2. torch's kernels (ATen), MKL and
    oneDNN choose their code path by the CPU's instruction set, and the AVX-512 and AVX2 paths
    round differently: the same commit trained to other weights and metrics on an AVX-512
    machine than on an AVX2-only one. Each variable is left alone when already set (e.g.
    ATEN_CPU_CAPABILITY=avx512 for speed, at the price of other numbers than the committed
    ones). Read by torch, MKL (conditional numerical reproducibility) and oneDNN at their first
    use, so it must run before torch computes anything: this package's import does it.
    OpenBLAS (numpy's and scipy's, under statsmodels' ETS and SARIMA) picks its kernels by CPU
    too: the baselines' metrics differed in the 6th digit between the two machines. It reads
    OPENBLAS_CORETYPE when numpy or scipy loads it, and numpy's own ufuncs dispatch to AVX-512
    unless NPY_DISABLE_CPU_FEATURES names numpy 2.4's AVX-512 targets; both take effect only if
    rnnlab is imported before numpy (the CLI, dvc.yaml's commands and the flow do; `import
    torch` loads numpy)."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:  # not Linux: the native paths stay
        return
    if "avx2" not in flags:
        return
    for key, value in {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2",
                       "ONEDNN_MAX_CPU_ISA": "AVX2", "OPENBLAS_CORETYPE": "Haswell",
                       "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}.items():
        os.environ.setdefault(key, value)


_pin_cpu_isa()

__version__ = "0.1.0"
