"""What a Triton kernel costs an H100 in registers and shared memory, without a GPU.

The kernel is compiled ahead of time for sm_90 (Triton's own compiler and ptxas; no GPU
or driver needed) and its cubin read back with the cuobjdump that ships with Triton:

* regs: registers per thread (255 is the most a thread can have);
* stack: bytes of local memory per thread, where values that did not fit in registers
  are spilled; STL / LDL count the spill stores and loads in the machine code;
* in loop ("loop" in the tables): how many of those STL / LDL lie inside a loop of the
  machine code (between a backward branch and its target): the ones paid at every
  iteration, where the others are paid once per program;
* instrs: machine instructions in the kernel (prologue, pipelined loop and epilogue; a
  static count, not the number executed);
* body: machine instructions in the kernel's longest loop: for a GEMM, the cost of one
  step of its reduction in instructions issued per thread (address arithmetic, masks,
  loads and the matrix instructions);
* smem: shared memory per program (an H100 gives a block at most 227 KB);
* mma: the matrix instructions, by kind ("HGMMA:4"): HGMMA (Hopper's warpgroup MMA,
  wgmma), HMMA (the warp-level mma.sync of earlier GPUs), DMMA (float64); "-" for none;
* cp.async: LDGSTS instructions, the asynchronous global-to-shared copies through which
  Triton's software pipeline loads the next tiles while the current ones are multiplied
  (0: the loads are not pipelined; each iteration waits for its own loads). An H100's
  copy is 4, 8 or 16 bytes a thread, so gathers of 2-byte elements cannot take it;
* loop loads: the loads from global memory in the longest loop, by kind and bytes a
  thread ("cp16:8": eight 16-byte asynchronous copies, "ld2:32": thirty-two 2-byte
  loads into registers, "-" for none): how far the loads of a reduction step are
  vectorised.

A spill costs a round trip through L1 (and beyond, if evicted) every time the value is
needed. The numbers hold for this Triton version and kernel code. ``resources`` compiles
integer arguments as plain int32; a launch on a GPU specialises those divisible by 16 and
the pointers aligned to 16 bytes, which bench/compiled_kernels.py reproduces by reading
the kernels the launchers themselves compile (``compiled_resources``). Only a GPU run
tells what the kernels cost in time.

Used by bench/conv_resources.py, bench/attention_resources.py and
bench/compiled_kernels.py.
"""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import tempfile
from typing import Any

H100_SHARED_MEMORY = 227 * 1024
COLUMNS = (f"{'regs':>5}{'stack':>7}{'STL':>6}{'LDL':>6}{'loop':>6}{'instrs':>8}{'body':>6}"
           f"{'smem':>8}{'mma':>10}{'cp.async':>9}  loop loads")


def cells(r: dict) -> str:
    """The columns of ``COLUMNS`` for the resources ``r``, and a mark when the shared
    memory is more than an H100 gives a block (the launch is refused there)."""
    fits = "" if r["smem"] <= H100_SHARED_MEMORY else "  too much shared memory"
    return (f"{r['regs']:>5}{r['stack']:>7}{r['stl']:>6}{r['ldl']:>6}{r['in_loop']:>6}"
            f"{r['instrs']:>8}{r['body']:>6}{r['smem']:>8}{r['mma']:>10}{r['cp_async']:>9}"
            f"  {r['loop_loads']}{fits}")


def refuse_the_interpreter() -> None:
    """Exit with a message under TRITON_INTERPRET=1, which compiles nothing."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        raise SystemExit("unset TRITON_INTERPRET: the kernels must be compiled")


def signature(kernel: Any, types: dict[str, str]) -> dict[str, str]:
    """Triton's signature of ``kernel``: "constexpr" for its constexpr parameters, the
    type in ``types`` for the others (by name), "i32" for those not named there."""
    return {p.name: "constexpr" if p.is_constexpr else types.get(p.name, "i32")
            for p in kernel.params}


def resources(kernel: Any, types: dict[str, str], constants: dict[str, Any],
              num_warps: int) -> dict[str, int]:
    """Compile ``kernel`` for sm_90 with argument ``types`` (see ``signature``) and the
    values of its constexpr parameters in ``constants``; regs, stack, stl, ldl, in_loop,
    instrs and smem of the result (module docstring)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from minigan.kernels.arrays import FP_FUSION      # as every launch asks

    sig = signature(kernel, types)
    names = list(sig)
    missing = sorted(n for n, t in sig.items() if t == "constexpr" and n not in constants)
    if missing:
        raise ValueError(f"{kernel.__name__}: no value for constexpr parameters {missing}")
    source = ASTSource(kernel, sig, {(names.index(k),): v for k, v in constants.items()
                                     if k in sig})
    options = dict(num_warps=num_warps, enable_fp_fusion=FP_FUSION)
    return compiled_resources(triton.compile(source, target=GPUTarget("cuda", 90, 32),
                                             options=options))


def compiled_resources(compiled: Any) -> dict:
    """regs, stack, stl, ldl, in_loop, instrs, body, smem, mma, cp_async and loop_loads
    (module docstring) of
    a kernel Triton compiled for an NVIDIA GPU (its ``CompiledKernel``)."""
    import triton
    cuobjdump = pathlib.Path(triton.__file__).parent / "backends/nvidia/bin/cuobjdump"
    with tempfile.TemporaryDirectory() as folder:
        cubin = pathlib.Path(folder) / "kernel.cubin"
        cubin.write_bytes(compiled.asm["cubin"])
        usage = subprocess.run([cuobjdump, "--dump-resource-usage", cubin], check=True,
                               capture_output=True, text=True).stdout
        sass = subprocess.run([cuobjdump, "-sass", cubin], check=True, capture_output=True,
                              text=True).stdout
    body = longest_loop_body(sass)
    return dict(regs=int(re.search(r"REG:(\d+)", usage).group(1)),
                stack=int(re.search(r"STACK:(\d+)", usage).group(1)),
                stl=len(re.findall(r"\bSTL", sass)), ldl=len(re.findall(r"\bLDL", sass)),
                in_loop=spills_in_loops(sass),
                instrs=len(re.findall(r"/\*[0-9a-f]{4,}\*/", sass)),
                body=len(body),
                smem=compiled.metadata.shared, mma=matrix_instructions(sass),
                cp_async=len(re.findall(r"\bLDGSTS\b", sass)), loop_loads=_load_kinds(body))


def matrix_instructions(sass: str) -> str:
    """The matrix instructions of cuobjdump's ``sass`` by kind ("HGMMA:4",
    "HMMA:8,DMMA:2"), or "-" when it has none: one cell without spaces."""
    kinds = {kind: len(re.findall(rf"\b{kind}\b", sass)) for kind in ("HGMMA", "HMMA", "DMMA")}
    return ",".join(f"{kind}:{n}" for kind, n in kinds.items() if n) or "-"


def _instructions(sass: str) -> list[tuple[int, str]]:
    """(address, text) of each instruction of cuobjdump's ``sass``."""
    return [(int(m.group(1), 16), m.group(2)) for m in
            re.finditer(r"^\s*/\*([0-9a-f]{4,})\*/\s*(.*?)\s*;", sass, re.M)]


def _loops(instructions: list[tuple[int, str]]) -> list[tuple[int, int]]:
    """The loops among ``instructions`` (``_instructions``) as (first, last) indices into
    it: from the target of a backward branch (``BRA`` to a lower address) to the branch,
    both included."""
    index = {at: k for k, (at, _) in enumerate(instructions)}
    return [(index[int(target.group(1), 16)], k) for k, (at, text) in enumerate(instructions)
            if (target := re.search(r"\bBRA\b.*?0x([0-9a-f]+)", text))
            and int(target.group(1), 16) < at and int(target.group(1), 16) in index]


def longest_loop_body(sass: str) -> list[str]:
    """The instructions of the longest loop of cuobjdump's ``sass`` (none: [])."""
    instructions = _instructions(sass)
    first, last = max(_loops(instructions), key=lambda loop: loop[1] - loop[0],
                      default=(0, -1))
    return [text for _, text in instructions[first:last + 1]]


# Bytes a thread of a global load or asynchronous copy, by the modifier that sets them
# (none: 4 bytes). ".LTC128B" and the like are cache hints, not sizes.
_LOAD_BYTES = {"U8": 1, "S8": 1, "U16": 2, "S16": 2, "64": 8, "128": 16}


def loop_loads(sass: str) -> str:
    """The global loads (LDG) and asynchronous copies (LDGSTS) in the longest loop of
    cuobjdump's ``sass``, by kind and bytes a thread: "cp16:8,ld4:2", or "-" for none."""
    return _load_kinds(longest_loop_body(sass))


def _load_kinds(instructions: list[str]) -> str:
    """``loop_loads`` of the given instructions (a loop's body)."""
    counts: dict[str, int] = {}
    for text in instructions:
        found = re.search(r"\b(LDGSTS|LDG)\b((?:\.\w+)*)", text)
        if found:
            size = next((_LOAD_BYTES[m] for m in found.group(2).split(".") if m in _LOAD_BYTES),
                        4)
            kind = f"{'cp' if found.group(1) == 'LDGSTS' else 'ld'}{size}"
            counts[kind] = counts.get(kind, 0) + 1
    return ",".join(f"{kind}:{n}" for kind, n in sorted(counts.items())) or "-"


def spills_in_loops(sass: str) -> int:
    """The STL and LDL instructions of cuobjdump's ``sass`` that lie between a backward
    branch (``BRA`` to a lower address) and its target."""
    instructions = _instructions(sass)
    loops = _loops(instructions)
    return sum(1 for k, (_, text) in enumerate(instructions)
               if re.search(r"\b(STL|LDL)\b", text)
               and any(first <= k <= last for first, last in loops))
