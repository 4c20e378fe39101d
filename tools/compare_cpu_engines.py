"""CPU speed of microsr against the engines a user would pick instead, side by side in one run.

The anchors come from PyPI into a virtual environment this script owns (default
~/.cache/microsr-engines-venv, made with --system-site-packages so Debian's python3-torch and
numpy stay visible): onnxruntime, openvino and ncnn. The script re-runs itself inside that venv.

Model: RealESRGAN_x4plus (RRDBNet, 23 blocks, x4) from the ncnn .param/.bin in the models folder.
Those weights are fp16 (the official ncnn conversion); every engine here computes in fp32 with
the same fp16-rounded weights, so the comparison is fair, and "PyTorch fp32" below means fp32
arithmetic on those weights.

  PyTorch       tools/torch_rrdbnet.py built from tools/ncnn_rrdbnet.py (as compare_cpu_vs_torch.py)
  ONNX Runtime  the PyTorch model exported to ONNX (opset 17, fixed 1x3xSxS input per size),
                CPU execution provider, ORT_ENABLE_ALL, intra-op threads = T, inter-op 1
  OpenVINO      the same ONNX file, CPU plugin, LATENCY hint, INFERENCE_NUM_THREADS = T; once with
                INFERENCE_PRECISION_HINT f32 and once with the plugin's default hint (bf16 on CPUs
                with AVX512_BF16 or AMX)
  ncnn          the .param/.bin directly through the ncnn Python API, CPU only, fp16/bf16 storage,
                packing and arithmetic all off (Winograd and sgemm on, as by default)
  microsr       <microsr> bench --size S --threads T --device cpu --reps R (its own JSON line)
  microsr_bf16  the same with --precision bf16 (conv_v9 on AMX, conv_v10 (Winograd F(2x2,3x3)) on
                AVX512_BF16 without AMX), to set beside OpenVINO's default hint, the other
                reduced-precision engine
  microsr_fp16  the same with --precision fp16: fp32 arithmetic on the AVX2 kernels, the dense
                blocks' activations stored in fp16 (for CPUs without bf16; run the script with
                MICROSR_CPU_ISA=avx2 to time microsr as on an AVX2-only CPU)

Timing: every engine runs in its own process (their thread pools never share a process) and is
loaded and warmed up once per size (one untimed forward pass; microsr bench does its own). Then
--rounds interleaved rounds: in each round every engine, in turn, times --reps forward passes per
size and reports their median; the table gives the median over the rounds of those medians.
All engines use T threads.

Accuracy: at the first size every engine upscales the same random 16-bit input (value / 65535);
the max abs difference from PyTorch fp32 is taken on outputs clamped to [0,1] on both sides, and
the PSNR (L = 1) of the same clamped outputs against PyTorch fp32.
microsr's output comes through `microsr upscale --tile 0` on a 16-bit RGB TIFF and back as a
16-bit TIFF (tools/gpu_parity.py's mechanism), so its figure includes up to 7.6e-6 of rounding.

Usage:
  python3 tools/compare_cpu_engines.py [--microsr build/microsr] [--threads 2] [--sizes 64,128]
      [--rounds 5] [--reps 3] [--venv DIR] [--param /work/shared/models/realesrgan-x4plus.param]
      [--engines torch,onnxruntime,openvino_f32,openvino_default,ncnn,microsr,microsr_bf16,microsr_fp16]
      [--out PREFIX]
  --out PREFIX writes PREFIX.md (the table) and PREFIX.json (every number).
This is a benchmark for people; it is not part of the test suite or CI.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TOOLS_DIR)
sys.path.insert(0, TOOLS_DIR)
from compare_cpu_vs_torch import find_binary, last_json_line  # noqa: E402
from ncnn_rrdbnet import DEFAULT_PARAM  # noqa: E402

DEFAULT_VENV = os.path.expanduser("~/.cache/microsr-engines-venv")
PYPI_PACKAGES = ["onnxruntime", "openvino", "ncnn"]
PY_ENGINES = ["torch", "onnxruntime", "openvino_f32", "openvino_default", "ncnn"]
MICROSR_ENGINES = {"microsr": "fp32", "microsr_bf16": "bf16", "microsr_fp16": "fp16"}  # engine -> --precision
ALL_ENGINES = PY_ENGINES + list(MICROSR_ENGINES)
LABELS = {
    "microsr": "microsr (fp32)",
    "microsr_bf16": "microsr bf16 (AMX or AVX512_BF16 kernels)",
    "microsr_fp16": "microsr fp16 storage (AVX2 kernels, F16C)",
    "ncnn": "ncnn (PyPI `ncnn`, fp16/bf16 off)",
    "openvino_f32": "OpenVINO (PyPI `openvino`, f32 hint)",
    "onnxruntime": "ONNX Runtime (CPU EP, ORT_ENABLE_ALL)",
    "torch": "PyTorch (Debian)",
    "openvino_default": "OpenVINO default hint",
}
FP32_ENGINES = ["ncnn", "openvino_f32", "onnxruntime", "torch"]
CPU_FLAGS = ["avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
             "amx_tile", "amx_bf16", "amx_int8"]


# ---- the venv --------------------------------------------------------------------------------

def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def ensure_venv(venv):
    """Creates the venv (system site packages visible) and installs the anchors from PyPI."""
    if not os.path.exists(venv_python(venv)):
        print(f"creating {venv} (--system-site-packages)", file=sys.stderr)
        base = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        subprocess.run([base, "-m", "venv", "--system-site-packages", venv], check=True)
    check = "import onnxruntime, openvino, ncnn, torch, numpy"
    if subprocess.run([venv_python(venv), "-c", check], capture_output=True).returncode != 0:
        print(f"pip install {' '.join(PYPI_PACKAGES)} into {venv}", file=sys.stderr)
        subprocess.run([venv_python(venv), "-m", "pip", "install", "-q"] + PYPI_PACKAGES,
                       check=True)
        if subprocess.run([venv_python(venv), "-c", check]).returncode != 0:
            sys.exit(f"{venv}: the engines still do not import (needs torch and numpy from the "
                     f"system: apt install python3-torch)")


def in_venv(venv):
    return os.path.realpath(sys.prefix) == os.path.realpath(venv)


# ---- the machine -----------------------------------------------------------------------------

def cpu_info():
    model, flags = platform.processor() or "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("?", "", "x86_64"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return dict(model=model, cores=os.cpu_count(), flags={f: f in flags for f in CPU_FLAGS},
                loadavg=os.getloadavg())


# ---- inputs, the model, ONNX -----------------------------------------------------------------

def test_input(size):
    """The accuracy input: uniform random 16-bit RGB (seed 0), as uint16 [H][W][3]."""
    import numpy as np
    return np.random.default_rng(0).integers(0, 65536, (size, size, 3), dtype=np.uint16)


def as_nchw(rgb16):
    import numpy as np
    return np.ascontiguousarray((rgb16.astype(np.float32) / 65535.0).transpose(2, 0, 1)[None])


def load_torch_model(param):
    from ncnn_rrdbnet import load_ncnn_rrdbnet
    from torch_rrdbnet import build_from_state_dict
    import torch
    return build_from_state_dict(load_ncnn_rrdbnet(param), torch.float32)


def export_onnx(param, sizes, workdir):
    """One ONNX file per size (fixed shape), opset 17; returns {size: path}."""
    import warnings
    import torch
    warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
    model = load_torch_model(param)
    paths = {}
    for size in sizes:
        path = os.path.join(workdir, f"rrdbnet_{size}.onnx")
        if not os.path.exists(path):
            with torch.no_grad():
                torch.onnx.export(model, torch.zeros(1, 3, size, size), path, opset_version=17,
                                  input_names=["input"], output_names=["output"])
        paths[size] = path
    return paths


# ---- one engine in its own process -----------------------------------------------------------

def make_runner(engine, param, size, threads, onnx_path):
    """Returns run(x: float32 [1][3][S][S]) → float32 [1][3][4S][4S] for one engine and size."""
    import numpy as np
    if engine == "torch":
        import torch
        torch.set_num_threads(threads)
        model = load_torch_model(param)

        def run(x):
            with torch.no_grad():
                return model(torch.from_numpy(x)).numpy()
        return run
    if engine == "onnxruntime":
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})[0]
    if engine.startswith("openvino"):
        import openvino as ov
        core = ov.Core()
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                  "NUM_STREAMS": 1}
        if engine == "openvino_f32":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        compiled = core.compile_model(core.read_model(onnx_path), "CPU", config)
        hint = compiled.get_property("INFERENCE_PRECISION_HINT")
        precision = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        print(f"{engine} {size}: INFERENCE_PRECISION_HINT={precision}", file=sys.stderr)
        request = compiled.create_infer_request()

        def run(x):
            request.infer({0: x})
            return request.get_output_tensor(0).data.copy()
        run.precision = precision
        return run
    if engine == "ncnn":
        import ncnn
        net = ncnn.Net()
        opt = net.opt
        opt.use_vulkan_compute = False
        opt.num_threads = threads
        for flag in ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic",
                     "use_bf16_storage", "use_bf16_packed", "use_int8_inference"):
            if hasattr(opt, flag):
                setattr(opt, flag, False)
        net.load_param(param)
        net.load_model(os.path.splitext(param)[0] + ".bin")

        def run(x):
            extractor = net.create_extractor()
            extractor.input("data", ncnn.Mat(np.ascontiguousarray(x[0])))
            status, out = extractor.extract("output")
            if status != 0:
                raise RuntimeError(f"ncnn extract failed ({status})")
            return np.array(out)[None]
        return run
    raise ValueError(f"unknown engine {engine}")


def worker(args):
    """Child process for one Python engine. Prepares and warms up every size, writes the first
    size's output on the test input, prints 'ready', then answers 'SIZE REPS' lines with a JSON
    list of seconds."""
    import numpy as np
    sizes = [int(s) for s in args.sizes.split(",")]
    onnx = {size: os.path.join(args.workdir, f"rrdbnet_{size}.onnx") for size in sizes}
    runners, info = {}, {}
    for size in sizes:
        start = time.perf_counter()
        run = make_runner(args.worker, args.param, size, args.threads, onnx[size])
        prepare = time.perf_counter() - start
        x = as_nchw(test_input(size)) if size == sizes[0] else np.random.default_rng(1).random(
            (1, 3, size, size), dtype=np.float32)
        y = run(x)  # warm-up (and the accuracy output at the first size)
        if size == sizes[0]:
            np.save(os.path.join(args.workdir, f"out_{args.worker}.npy"), y.astype(np.float32))
        runners[size] = (run, x)
        info[size] = dict(prepare_s=prepare, precision=getattr(run, "precision", "f32"))
    print(json.dumps(dict(ready=True, info=info)), flush=True)
    for line in sys.stdin:
        size, reps = (int(v) for v in line.split())
        run, x = runners[size]
        seconds = []
        for _ in range(reps):
            start = time.perf_counter()
            run(x)
            seconds.append(time.perf_counter() - start)
        print(json.dumps(seconds), flush=True)


class Worker:
    def __init__(self, engine, args, workdir):
        self.engine = engine
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        command = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--workdir",
                   workdir, "--sizes", args.sizes, "--threads", str(args.threads), "--param",
                   args.param, "--venv", args.venv]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=env)
        self.info = None

    def wait_ready(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.engine}: worker exited (exit {self.process.wait()})")
        self.info = json.loads(line)["info"]

    def time(self, size, reps):
        self.process.stdin.write(f"{size} {reps}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.engine}: worker died")
        return json.loads(line)

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait()


# ---- microsr ---------------------------------------------------------------------------------

def microsr_bench(binary, args, size, precision="fp32"):
    command = [binary, "bench", "--model", args.param, "--size", str(size), "--threads",
               str(args.threads), "--device", "cpu", "--reps", str(args.reps),
               "--precision", precision]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} → exit {done.returncode}: {done.stderr.strip()}")
    return last_json_line(done.stdout)


def microsr_output(binary, args, size, workdir, precision="fp32"):
    """microsr upscale --tile 0 of the test input (16-bit TIFF in and out); float [1][3][H][W]."""
    from gpu_parity import read_image, write_tiff16
    src = os.path.join(workdir, f"in_{size}.tif")
    dst = os.path.join(workdir, f"out_{size}_{precision}.tif")
    write_tiff16(src, test_input(size))
    command = [binary, "upscale", src, "-o", dst, "--model", args.param, "--tile", "0",
               "--device", "cpu", "--threads", str(args.threads), "--overwrite",
               "--precision", precision]
    subprocess.run(command, check=True, capture_output=True)
    return read_image(dst)[None]


# ---- the report ------------------------------------------------------------------------------

def fmt_s(value):
    if value is None:
        return "—"
    return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"


def report(results, args, cpu, sizes):
    lines = []
    flags = ", ".join(f"{f} {'yes' if v else 'no'}" for f, v in cpu["flags"].items())
    lines.append(f"CPU: {cpu['model']}, {cpu['cores']} logical cores; {flags}")
    lines.append(f"load average at start: {' '.join(f'{v:.2f}' for v in cpu['loadavg'])}")
    lines.append(f"{args.threads} threads; median over {args.rounds} interleaved rounds of the "
                 f"median of {args.reps} timed runs each, after a warm-up. Max diff: largest "
                 f"|engine - PyTorch fp32| at {sizes[0]}², outputs clamped to [0,1].")
    lines.append("")
    fastest = {}
    for size in sizes:
        times = [results[e]["median_s"].get(str(size)) for e in FP32_ENGINES if e in results]
        times = [t for t in times if t is not None]
        fastest[size] = min(times) if times else None
    head = "| engine | " + " | ".join(f"{s}²" for s in sizes) + " | " + " | ".join(
        f"÷ microsr {s}²" for s in sizes) + f" | max diff vs PyTorch fp32 ({sizes[0]}²) | PSNR vs PyTorch fp32 ({sizes[0]}²) |"
    lines.append(head)
    lines.append("|" + "---|" * (3 + 2 * len(sizes)))
    ours = results.get("microsr", {}).get("median_s", {})
    for engine in LABELS:  # the order
        if engine not in results:
            continue
        r = results[engine]
        label = LABELS[engine]
        if r.get("precision") and engine == "openvino_default":
            label += f" ({r['precision']} inference)"
        cells = [fmt_s(r["median_s"].get(str(s))) for s in sizes]
        ratios = []
        for s in sizes:
            t, o = r["median_s"].get(str(s)), ours.get(str(s))
            ratios.append(f"{t / o:.2f}" if t and o else "—")
        diff = r.get("max_diff")
        diff_text = "—" if diff is None else ("0 (reference)" if engine == "torch"
                                              else f"{diff:.1e}")
        psnr = r.get("psnr_db")
        psnr_text = "—" if psnr is None or engine == "torch" else f"{psnr:.2f} dB"
        lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios)
                     + f" | {diff_text} | {psnr_text} |")
    lines.append("")
    lines.append("÷ microsr: the engine's time over microsr's (above 1: microsr is faster).")
    for size in sizes:
        o = ours.get(str(size))
        if o and fastest[size]:
            lines.append(f"{size}²: fastest fp32 anchor {fmt_s(fastest[size])}; microsr "
                         f"{fastest[size] / o:.2f}× its speed (target 1.5×: microsr ≤ "
                         f"{fmt_s(fastest[size] / 1.5)})")
    bf16 = results.get("microsr_bf16", {}).get("median_s", {})
    openvino_bf16 = results.get("openvino_default", {}).get("median_s", {})
    for size in sizes:
        b, o = bf16.get(str(size)), openvino_bf16.get(str(size))
        if b and o:
            lines.append(f"{size}²: microsr bf16 {fmt_s(b)} vs OpenVINO default hint {fmt_s(o)}: "
                         f"microsr bf16 is {o / b:.2f}× its speed")
    # On a shared VM a round can be slowed 2-3x by its neighbours: the fastest round of each engine
    # is the other honest summary (the same comparison on the least disturbed round).
    best = {e: r.get("best_s", {}) for e, r in results.items()}
    lines.append("")
    lines.append("Fastest round of each engine: " + "; ".join(
        f"{LABELS[e]} " + " / ".join(fmt_s(best[e].get(str(s))) for s in sizes)
        for e in LABELS if e in results and best[e]))
    for size in sizes:
        anchors = [best[e].get(str(size)) for e in FP32_ENGINES if e in best and best[e].get(str(size))]
        o = best.get("microsr", {}).get(str(size))
        if o and anchors:
            lines.append(f"{size}², fastest rounds: fp32 anchor {fmt_s(min(anchors))}, microsr {fmt_s(o)}: "
                         f"{min(anchors) / o:.2f}× its speed")
        b, v = best.get("microsr_bf16", {}).get(str(size)), best.get("openvino_default", {}).get(str(size))
        if b and v:
            lines.append(f"{size}², fastest rounds: microsr bf16 {fmt_s(b)} vs OpenVINO default hint "
                         f"{fmt_s(v)}: {v / b:.2f}× its speed")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--microsr", default=None,
                        help="the microsr binary (default: <repo>/build/microsr)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="64,128", help="comma-separated square input sizes")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--reps", type=int, default=3, help="timed runs per engine per round")
    parser.add_argument("--engines", default=",".join(ALL_ENGINES))
    parser.add_argument("--venv", default=DEFAULT_VENV, help="the venv this script owns")
    parser.add_argument("--param", default=DEFAULT_PARAM, help="ncnn .param (the .bin beside it)")
    parser.add_argument("--workdir", default=None, help="ONNX files and outputs (default: temp)")
    parser.add_argument("--out", default=None, help="write OUT.md and OUT.json")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.venv = os.path.abspath(args.venv)

    if args.worker:
        worker(args)
        return
    if not in_venv(args.venv):
        ensure_venv(args.venv)
        os.execv(venv_python(args.venv), [venv_python(args.venv), os.path.abspath(__file__)]
                 + sys.argv[1:])

    import numpy as np
    sizes = [int(s) for s in args.sizes.split(",")]
    engines = [e for e in args.engines.split(",") if e]
    unknown = set(engines) - set(ALL_ENGINES)
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}; known: {ALL_ENGINES}")
    binary = args.microsr or find_binary(os.path.join(REPO_ROOT, "build"))
    if set(MICROSR_ENGINES) & set(engines) and not (binary and os.access(binary, os.X_OK)):
        parser.error("no microsr binary: build it or pass --microsr PATH")
    workdir = args.workdir or tempfile.mkdtemp(prefix="microsr-engines-")
    os.makedirs(workdir, exist_ok=True)
    cpu = cpu_info()
    import onnxruntime
    import openvino
    import ncnn
    import torch
    versions = dict(torch=torch.__version__, onnxruntime=onnxruntime.__version__,
                    openvino=openvino.__version__, ncnn=ncnn.__version__, numpy=np.__version__)
    print(f"CPU {cpu['model']}: {cpu['flags']}; versions {versions}", file=sys.stderr)

    results, errors = {}, {}
    if {"onnxruntime", "openvino_f32", "openvino_default"} & set(engines):
        export_onnx(args.param, sizes, workdir)
    workers = {}
    for engine in [e for e in engines if e in PY_ENGINES]:
        try:  # one at a time, so the preparations do not share the cores
            w = Worker(engine, args, workdir)
            w.wait_ready()
            workers[engine] = w
            results[engine] = dict(rounds={str(s): [] for s in sizes},
                                   precision=w.info[str(sizes[0])]["precision"],
                                   prepare_s={s: w.info[s]["prepare_s"] for s in w.info})
        except Exception as error:  # noqa: BLE001 — report the engine as failed, keep the others
            errors[engine] = str(error)
            print(f"{engine} failed: {error}", file=sys.stderr)
    for engine, precision in MICROSR_ENGINES.items():
        if engine in engines:
            results[engine] = dict(rounds={str(s): [] for s in sizes}, precision=precision,
                                   binary=binary)
    try:
        for round_index in range(args.rounds):
            for size in sizes:
                for engine in engines:
                    if engine not in results:
                        continue
                    if engine in MICROSR_ENGINES:
                        seconds = microsr_bench(binary, args, size,
                                                MICROSR_ENGINES[engine])["seconds_median"]
                    else:
                        seconds = statistics.median(workers[engine].time(size, args.reps))
                    results[engine]["rounds"][str(size)].append(seconds)
                    print(f"round {round_index + 1}/{args.rounds} {size}² {engine:17s} "
                          f"{seconds:.3f} s", file=sys.stderr)
    finally:
        for w in workers.values():
            w.close()
    for r in results.values():
        r["median_s"] = {s: statistics.median(v) for s, v in r["rounds"].items() if v}
        r["best_s"] = {s: min(v) for s, v in r["rounds"].items() if v}

    # Accuracy at the first size, against PyTorch fp32, both clamped to [0,1].
    reference_path = os.path.join(workdir, "out_torch.npy")
    if os.path.exists(reference_path):
        reference = np.clip(np.load(reference_path), 0, 1)
        for engine in results:
            try:
                if engine in MICROSR_ENGINES:
                    out = microsr_output(binary, args, sizes[0], workdir, MICROSR_ENGINES[engine])
                else:
                    out = np.load(os.path.join(workdir, f"out_{engine}.npy"))
                diff = np.clip(out, 0, 1).astype(np.float64) - reference
                results[engine]["max_diff"] = float(np.abs(diff).max())
                mse = float(np.mean(diff * diff))
                results[engine]["psnr_db"] = float("inf") if mse == 0 else 10 * np.log10(1 / mse)
            except Exception as error:  # noqa: BLE001
                errors[f"{engine} accuracy"] = str(error)

    table = report(results, args, cpu, sizes)
    print(table)
    for name, error in errors.items():
        print(f"FAILED {name}: {error}")
    if args.out:
        with open(args.out + ".md", "w") as f:
            f.write(table + "\n")
        with open(args.out + ".json", "w") as f:
            json.dump(dict(cpu=cpu, versions=versions, threads=args.threads, sizes=sizes,
                           rounds=args.rounds, reps=args.reps, results=results, errors=errors,
                           command=" ".join(sys.argv)), f, indent=1)
        print(f"wrote {args.out}.md and {args.out}.json", file=sys.stderr)


if __name__ == "__main__":
    main()
