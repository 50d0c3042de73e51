"""Tests for bench/sm90.py's reading of machine code: which spill instructions lie in a
loop (between a backward branch and its target), on hand-written SASS in cuobjdump's
layout."""
import importlib.util
import pathlib

spec = importlib.util.spec_from_file_location(
    "sm90", pathlib.Path(__file__).resolve().parents[2] / "bench" / "sm90.py")
sm90 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sm90)

SASS = """
        Function : kernel
        /*0000*/                   LDC R1, c[0x0][0x28] ;                 /* 0x00000a00ff017b82 */
        /*0010*/                   STL [R1], R2 ;                         /* 0x0000000201007387 */
        /*0020*/               @!P1 BRA 0x0080 ;                          /* 0x0000000400089947 */
        /*0030*/                   LDL R3, [R1] ;                         /* 0x0000000001037983 */
        /*0040*/                   FFMA R4, R3, R3, R4 ;                  /* 0x0000000303047223 */
        /*0050*/                   STL.64 [R1+0x8], R4 ;                  /* 0x0000080401007387 */
        /*0060*/                @P1 BRA 0x0030 ;                          /* 0xfffffffc00f01947 */
        /*0070*/                   LDL R5, [R1+0x8] ;                     /* 0x0000080001057983 */
        /*0080*/                   EXIT ;                                 /* 0x000000000000794d */
        /*0090*/                   BRA 0x90;                              /* 0xfffffffc00fc7947 */
"""


def test_spills_between_a_backward_branch_and_its_target_are_in_the_loop():
    """The loop is 0x30-0x60: its LDL and STL.64 count; the STL before it, the LDL after
    it, the forward branch and the closing self-branch do not."""
    assert sm90.spills_in_loops(SASS) == 2


def test_no_backward_branch_no_loop():
    assert sm90.spills_in_loops(SASS.replace("@P1 BRA 0x0030", "@P1 BRA 0x0070")) == 0


def test_nested_loops_count_each_spill_once():
    inner = SASS.replace("/*0070*/                   LDL R5, [R1+0x8] ;",
                         "/*0070*/                @P2 BRA 0x0040 ;")
    assert sm90.spills_in_loops(inner) == 2


def test_matrix_instructions_by_kind():
    """HGMMA (warpgroup), HMMA (warp) and DMMA (float64) counted apart, by whole mnemonic
    with its modifiers; "-" for none."""
    hopper = """
        /*0100*/                   HGMMA.64x64x8.F32.TF32 R24, gdesc[UR4], R24 ;
        /*0110*/                   HGMMA.64x64x8.F32.TF32 R24, gdesc[UR8], R24, gsb0 ;
        /*0120*/                   HMMA.16816.F32 R4, R8, R12, R4 ;
        /*0130*/                   DMMA.8x8x4 R16, R18, R20, R16 ;
        /*0140*/                   LDGSTS.E.BYPASS.128 [R3], desc[UR6][R4.64] ;
    """
    assert sm90.matrix_instructions(hopper) == "HGMMA:2,HMMA:1,DMMA:1"
    assert sm90.matrix_instructions(SASS) == "-"


def test_the_longest_loop_body_counts_its_instructions():
    """The loop 0x30-0x60 holds four instructions, its closing branch included; the
    closing self-branch at 0x90 (the end of every kernel) is not a loop."""
    loops = sm90._loops(sm90._instructions(SASS))
    assert [last - first + 1 for first, last in loops] == [4]
    assert len(sm90.longest_loop_body(SASS)) == 4
    assert sm90.longest_loop_body(SASS.split("/*0020*/")[0]) == []


def test_loop_loads_by_kind_and_bytes_a_thread():
    """In the longest loop only: 16-byte and 4-byte asynchronous copies, 2-byte and 8-byte
    loads to registers; the copies' barrier (LDGDEPBAR) and cache hints (LTC128B) are not
    loads or sizes; the load after the loop is not counted."""
    loop = SASS.replace(
        "/*0040*/                   FFMA R4, R3, R3, R4 ;",
        "/*0040*/                   LDGSTS.E.BYPASS.LTC128B.128 [R3], desc[UR6][R4.64] ;\n"
        "        /*0041*/                   LDGSTS.E.BYPASS.128 [R3+0x10], desc[UR6][R6.64] ;\n"
        "        /*0042*/                   LDGSTS.E [R5], desc[UR6][R8.64] ;\n"
        "        /*0043*/                   LDGDEPBAR ;\n"
        "        /*0044*/               @P0 LDG.E.U16 R9, desc[UR6][R10.64] ;\n"
        "        /*0045*/                   LDG.E.64 R12, desc[UR6][R10.64+0x8] ;")
    loop = loop.replace("/*0070*/                   LDL R5, [R1+0x8] ;",
                        "/*0070*/                   LDG.E R5, desc[UR6][R2.64] ;")
    assert sm90.loop_loads(loop) == "cp16:2,cp4:1,ld2:1,ld8:1"
    assert sm90.loop_loads(SASS) == "-"
    assert sm90.loop_loads(SASS.split("/*0020*/")[0]) == "-"
