"""The optional C accelerator of the text fingerprint (``copyalign.core._kernels``).

Everything else is configured in pyproject.toml. The extension is optional: where no C compiler is found
the build goes on without it and ``copyalign.core.matching.textfp`` uses its numpy implementation, which gives
identical fingerprints (tests/unit/core/test_textfp.py checks both against each other where the extension was built,
which .ci/run asserts; tests/unit/core/test_kernels_fallback.py runs an install without it on purpose).
"""

import platform

from setuptools import Extension, setup

# -ffp-contract=off: kernels that promise a reference's exact floats (pdq64, iscc_dct32) must not have a
# multiply and an add fused where the CPU has FMA (aarch64 always does), which rounds once instead of twice.
# every x86-64 CPU since 2008 has POPCNT; without the flag GCC calls a slower library routine
popcnt = ["-mpopcnt"] if platform.machine().lower() in ("x86_64", "amd64") else []

setup(
    ext_modules=[
        Extension(
            "copyalign.core._kernels",
            ["src/copyalign/core/_kernels.c"],
            extra_compile_args=["-O3", "-ffp-contract=off", *popcnt],
            optional=True,
        )
    ]
)
