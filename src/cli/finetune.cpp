// microsr finetune: fine-tune an RRDBNet on (LR, HR) pairs with L1 + Adam, as the seed did.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "args.h"
#include "device_choice.h"
#include "finetune_log.h"
#include "interrupts.h"
#include "io/file_bytes.h"
#include "microsr/metrics.h"
#include "microsr/pairs.h"
#include "microsr/train.h"
#include "subcommands.h"

namespace fs = std::filesystem;

namespace microsr::cli {

namespace {

std::string with_suffix(const std::string& out, const std::string& suffix) {
  fs::path p(out);
  return (p.parent_path() / p.stem()).string() + suffix;
}

std::vector<int> parse_int_list(const std::string& text, const std::string& option) {
  std::vector<int> values;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      values.push_back(std::stoi(item));
    } catch (const std::exception&) {
      throw UsageError(option + " wants comma-separated integers, got '" + text + "'");
    }
  }
  require_usage(!values.empty(), option + " is empty");
  return values;
}

struct Settings {
  std::string pairs, out, init, val, checkpoint, device;
  int epochs = 50, batch = 4, patch = 128, threads = 0, checkpoint_every = 500;
  int64_t max_iterations = 0;
  bool resume = false, flips = true, safetensors = false;
  uint64_t seed = 0;
  LrSchedule schedule;
  TrainerOptions trainer;

  // The settings a resumed run must share with the one it continues.
  std::string fingerprint() const {
    std::ostringstream os;
    os << "epochs=" << epochs << " batch=" << batch << " patch=" << patch << " seed=" << seed << " flips=" << flips
       << " schedule=" << schedule.describe() << " beta1=" << trainer.adam.beta1 << " beta2=" << trainer.adam.beta2
       << " eps=" << trainer.adam.eps << " wd=" << trainer.adam.weight_decay << " adamw=" << trainer.adam.decoupled
       << " clip=" << trainer.clip_grad_norm << " ema=" << trainer.ema_decay;
    return os.str();
  }
};

const Settings kDefaults;  // the seed's recipe (Adam, StepLR), BasicSR's EMA
const LrSchedule& kSchedule = kDefaults.schedule;
const TrainerOptions& kTrainer = kDefaults.trainer;

const CommandSpec kSpec{
    "finetune",
    "--pairs DIR -o OUT.pth [options]",
    R"(Fine-tunes an RRDBNet (RealESRGAN_x4plus by default) on the pairs `microsr make-pairs` wrote:
L1 loss on aligned random patches, Adam, a step learning-rate schedule, an EMA of the weights.
One epoch visits every pair once in a random order (batches of --batch; the last partial batch
sits out). OUT.pth holds {"params", "params_ema"} as BasicSR saves them: torch.load, Real-ESRGAN
and `microsr upscale --model` read it (they use params_ema).
)",
    {
        text("--pairs", "DIR", "", "training pairs (hr/, lr/, manifest.csv) (required)"),
        text("--output", "OUT.pth", "", "the fine-tuned weights (required)").short_name("-o"),
        text("--init", "MODEL", "", "starting weights").default_is("RealESRGAN_x4plus, see microsr info"),
        integer("--epochs", "N", default_text(kDefaults.epochs), "epochs").at_least(1).at_most(100000),
        integer("--batch", "N", default_text(kDefaults.batch), "pairs per iteration").at_least(1).at_most(1024),
        integer("--patch", "N", default_text(kDefaults.patch),
                "HR patch side, a multiple of the model's scale (128 → LR 32)")
            .at_least(4)
            .at_most(4096),
        number("--lr", "X", default_text(kSchedule.base_lr), "Adam's learning rate at epoch 1").above(0).below(1),
        integer("--lr-step", "N", default_text(kSchedule.step_size),
                "multiply the lr by --lr-gamma every N epochs (StepLR)")
            .at_least(1),
        text("--lr-milestones", "A,B", "", "instead: multiply at these epochs (MultiStepLR)")
            .checked_by([](const std::string& t) { parse_int_list(t, "--lr-milestones"); }),
        number("--lr-gamma", "X", default_text(kSchedule.gamma), "the lr's factor at each step").above(0).at_most(1),
        number("--beta1", "X", default_text(kTrainer.adam.beta1), "Adam's first moment decay").at_least(0).below(1),
        number("--beta2", "X", default_text(kTrainer.adam.beta2), "Adam's second moment decay").at_least(0).below(1),
        number("--eps", "X", default_text(kTrainer.adam.eps), "Adam's epsilon").above(0),
        number("--weight-decay", "X", default_text(kTrainer.adam.weight_decay),
               "added to the gradient, as torch.optim.Adam; --adamw decouples it")
            .at_least(0),
        flag("--adamw", "decoupled weight decay (torch.optim.AdamW)"),
        number("--clip-grad", "X", default_text(kTrainer.clip_grad_norm),
               "0: off; otherwise clip the gradients' global L2 norm to X")
            .at_least(0),
        number("--ema", "X", default_text(kTrainer.ema_decay), "EMA decay of the weights (0 turns the EMA off)")
            .at_least(0)
            .below(1),
        flag("--no-flips", "no random horizontal/vertical flips of the patches"),
        text("--val", "DIR", "",
             "validation pairs: L1, PSNR and SSIM of the whole images each epoch\n"
             "(with the EMA weights when the EMA is on)"),
        integer("--seed", "N", default_text(double(kDefaults.seed)), "patch positions, order and flips").at_least(0),
        device_option("auto"),
        threads_option(),
        text("--checkpoint", "FILE", "", "where to keep the resumable state").default_is("OUT with .ckpt.safetensors"),
        integer("--checkpoint-every", "N", default_text(kDefaults.checkpoint_every),
                "also save it every N iterations (always at epoch ends)")
            .at_least(1),
        flag("--resume", "continue from the checkpoint: same optimizer state, step, data order"),
        integer("--max-iterations", "N", default_text(double(kDefaults.max_iterations)),
                "stop (with a checkpoint) after N iterations in all, e.g. for a\n"
                "trial; 0 = no limit")
            .at_least(0),
        flag("--safetensors", "also write OUT's weights as OUT.safetensors (the EMA when it is on)"),
    },
    R"(Logs: OUT with .iterations.csv (loss, lr, grad norm, images/s per iteration) and .epochs.csv
(mean loss, validation). Ctrl-C saves a checkpoint and stops (exit status 130); --resume picks it
up. A loss or gradient that is not finite stops the run with the last good checkpoint kept (1).
Stopping at --max-iterations is a success (0).
)"};

Settings parse_settings(const Args& args) {
  Settings s;
  s.pairs = args.get("--pairs");
  s.out = args.output();
  require_usage(!s.pairs.empty(), "--pairs DIR is required (a folder made by microsr make-pairs)");
  require_usage(!s.out.empty(), "-o OUT.pth is required");
  require_usage(fs::path(s.out).extension() == ".pth", "-o must name a .pth file, got '" + s.out + "'");
  s.init = args.get("--init");  // "" = the default model, looked up only when needed
  s.val = args.get("--val");
  s.checkpoint = args.has("--checkpoint") ? args.get("--checkpoint") : with_suffix(s.out, ".ckpt.safetensors");
  s.device = args.get("--device");
  s.epochs = args.get_int("--epochs");
  s.batch = args.get_int("--batch");
  s.patch = args.get_int("--patch");
  s.threads = args.get_int("--threads");
  s.checkpoint_every = args.get_int("--checkpoint-every");
  s.max_iterations = args.get_int("--max-iterations");
  s.seed = uint64_t(args.get_int("--seed"));
  s.resume = args.has("--resume");
  s.flips = !args.has("--no-flips");
  s.safetensors = args.has("--safetensors");

  s.schedule.base_lr = args.get_double("--lr");
  s.schedule.gamma = args.get_double("--lr-gamma");
  if (args.has("--lr-milestones")) {
    s.schedule.kind = LrSchedule::Kind::multistep;
    s.schedule.milestones = parse_int_list(args.get("--lr-milestones"), "--lr-milestones");
  } else {
    s.schedule.step_size = args.get_int("--lr-step");
  }
  s.trainer.adam.beta1 = args.get_double("--beta1");
  s.trainer.adam.beta2 = args.get_double("--beta2");
  s.trainer.adam.eps = args.get_double("--eps");
  s.trainer.adam.weight_decay = args.get_double("--weight-decay");
  s.trainer.adam.decoupled = args.has("--adamw");
  s.trainer.clip_grad_norm = args.get_double("--clip-grad");
  s.trainer.ema_decay = args.get_double("--ema");
  return s;
}

// L1, PSNR and SSIM of the network's output on every validation pair (whole images).
EpochRecord validate(RRDBNet& net, Backend& backend, const PairSet& val) {
  EpochRecord r;
  r.has_val = true;
  for (const TrainingPair& p : val.pairs) {
    Tensor lr = Tensor::empty({1, 3, p.lr.height, p.lr.width});
    std::copy(p.lr.pixels.begin(), p.lr.pixels.end(), lr.f32());
    Tensor sr = backend.to_host(net.forward(backend.to_device(lr)));
    float* s = sr.f32();
    double l1 = 0;
    for (int64_t i = 0; i < sr.numel(); ++i) {
      l1 += std::abs(double(s[i]) - p.hr.pixels[size_t(i)]);
      s[i] = std::clamp(s[i], 0.f, 1.f);  // PSNR/SSIM of the image as it would be saved
    }
    r.val_l1 += l1 / double(sr.numel());
    r.val_psnr += psnr(s, p.hr.pixels.data(), 3, p.hr.width, p.hr.height);
    r.val_ssim += ssim(s, p.hr.pixels.data(), 3, p.hr.width, p.hr.height);
  }
  const double n = double(val.pairs.size());
  r.val_l1 /= n, r.val_psnr /= n, r.val_ssim /= n;
  return r;
}

// A double as text that reads back to the same bits (hexadecimal floating point).
std::string exact_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

double mean_abs_change(const StateDict& a, const StateDict& b) {
  double sum = 0;
  int64_t n = 0;
  for (const auto& [name, t] : a.entries) {
    const Tensor& u = b.at(name);
    for (int64_t i = 0; i < t.numel(); ++i) sum += std::abs(double(t.f32()[i]) - u.f32()[i]);
    n += t.numel();
  }
  return sum / double(n);
}

void save_outputs(const Settings& s, const Trainer& trainer) {
  const StateDict params = trainer.weights();
  const StateDict ema = trainer.ema_weights();
  std::vector<std::pair<std::string, const StateDict*>> groups = {{"params", &params}};
  if (s.trainer.ema_decay > 0) groups.push_back({"params_ema", &ema});
  io::replace_file_atomically(s.out, [&](const std::string& temp) { save_pth_groups(temp, groups); });
  if (s.safetensors) {
    const std::string path = with_suffix(s.out, ".safetensors");
    io::replace_file_atomically(path, [&](const std::string& temp) { save_safetensors(temp, ema); });
  }
}

int train(const Settings& s) {
  DeviceChoice choice;
  choice.device = s.device;
  choice.threads = s.threads;
  auto backend = make_backend(choice);
  const PairSet pairs = PairSet::load(s.pairs);
  require(!pairs.pairs.empty(), s.pairs + ": no training pairs");
  const PairSet val = s.val.empty() ? PairSet{} : PairSet::load(s.val, pairs.scale);

  // The starting point: the checkpoint when resuming, --init otherwise.
  TrainingCheckpoint checkpoint;
  if (s.resume) {
    require(fs::exists(s.checkpoint), "--resume: no checkpoint at " + s.checkpoint);
    checkpoint = load_checkpoint(s.checkpoint);
    require(checkpoint.info["settings"] == s.fingerprint(),
            "--resume: " + s.checkpoint + " was made with other settings:\n  it:   " + checkpoint.info["settings"] +
                "\n  now:  " + s.fingerprint());
  }
  // The model the run started from (for the summary's weight change), as a path.
  const std::string init_path = s.resume ? checkpoint.info.at("init") : !s.init.empty() ? s.init : default_model_path();
  const StateDict initial = s.resume ? checkpoint.weights : load_rrdbnet_weights(init_path);
  const RRDBNetConfig config = infer_rrdbnet_config(initial);
  require(config.num_in_ch == 3 && config.num_out_ch == 3, "finetune needs an RGB model; " + config.describe());
  require(config.scale == pairs.scale, "the model upscales ×" + std::to_string(config.scale) + " but the pairs in " +
                                           s.pairs + " are ×" + std::to_string(pairs.scale));
  require(s.patch % config.scale == 0,
          "--patch " + std::to_string(s.patch) + " is not a multiple of the scale " + std::to_string(config.scale));
  RRDBNet net(config, initial, *backend);
  Trainer trainer(net, *backend, s.trainer);

  PatchOptions patch_options;
  patch_options.batch = s.batch;
  patch_options.lr_patch = s.patch / config.scale;
  patch_options.flips = s.flips;
  patch_options.seed = s.seed;
  PatchSampler sampler(pairs, patch_options);
  const int64_t per_epoch = sampler.batches_per_epoch();
  const int64_t total = per_epoch * s.epochs;
  if (s.resume) {
    trainer.load_optimizer_state(checkpoint.optimizer, std::stoll(checkpoint.info.at("steps")));
    sampler.load_state(checkpoint.info.at("sampler"));
    require(sampler.batches_drawn() == trainer.steps_done(),
            s.checkpoint + ": the sampler and optimizer disagree on the step");
  }
  const StateDict reference = s.resume ? load_rrdbnet_weights(init_path) : initial;

  // The running epoch statistics, carried across a resume so the logs read as one run.
  double first_epoch_loss = NAN, last_epoch_loss = NAN, epoch_sum = 0;
  int64_t epoch_count = 0;
  if (s.resume) {
    epoch_sum = std::strtod(checkpoint.info.at("epoch_loss_sum").c_str(), nullptr);
    epoch_count = std::stoll(checkpoint.info.at("epoch_loss_count"));
    first_epoch_loss = std::strtod(checkpoint.info.at("first_epoch_loss").c_str(), nullptr);
  }
  auto save_state = [&] {
    TrainingCheckpoint c;
    c.weights = trainer.weights();
    c.optimizer = trainer.optimizer_state();
    c.info = {{"settings", s.fingerprint()},
              {"steps", std::to_string(trainer.steps_done())},
              {"sampler", sampler.save_state()},
              {"init", init_path},
              {"epoch_loss_sum", exact_text(epoch_sum)},
              {"epoch_loss_count", std::to_string(epoch_count)},
              {"first_epoch_loss", exact_text(first_epoch_loss)}};
    save_checkpoint(s.checkpoint, c);
  };

  TrainingLog log(with_suffix(s.out, ".iterations.csv"), with_suffix(s.out, ".epochs.csv"), total, trainer.steps_done(),
                  int(trainer.steps_done() / per_epoch));
  log.note("finetune: " + config.describe() + " on " + backend->name());
  log.note("  " + std::to_string(pairs.size()) + " pairs from " + s.pairs + ", " + std::to_string(per_epoch) +
           " iterations/epoch × " + std::to_string(s.epochs) + " epochs, batch " + std::to_string(s.batch) +
           ", HR patch " + std::to_string(s.patch) + ", " + s.schedule.describe());
  if (s.resume) log.note("  resuming at iteration " + std::to_string(trainer.steps_done()) + " from " + s.checkpoint);

  auto validation_net = [&]() -> EpochRecord {
    if (val.pairs.empty()) return {};
    if (s.trainer.ema_decay <= 0) return validate(net, *backend, val);
    RRDBNet ema_net(config, trainer.ema_weights(), *backend);
    return validate(ema_net, *backend, val);
  };
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  if (!s.resume && !val.pairs.empty()) {
    EpochRecord before = validation_net();
    before.epoch = 0, before.lr = s.schedule.lr_at(0), before.mean_loss = NAN;
    log.epoch(before);
  }

  InterruptGuard interrupts;  // Ctrl-C: checkpoint after this iteration and stop; twice: at once

  Tensor lr_batch, hr_batch;
  while (trainer.steps_done() < total) {
    const int64_t iteration = trainer.steps_done();  // 0-based: the one about to run
    const int epoch = int(iteration / per_epoch);
    const double lr = s.schedule.lr_at(epoch);
    sampler.next_batch(lr_batch, hr_batch);
    double loss = 0;
    try {
      loss = trainer.step(lr_batch, hr_batch, lr);
    } catch (const Error& e) {
      log.note(std::string("stopping: ") + e.what());
      log.note("the last good checkpoint is " + s.checkpoint + " (not overwritten)");
      return 1;
    }
    log.iteration(iteration + 1, epoch + 1, lr, loss, trainer.last_grad_norm(), s.batch);
    epoch_sum += loss, ++epoch_count;

    const bool epoch_end = (iteration + 1) % per_epoch == 0;
    if (epoch_end) {
      EpochRecord r = validation_net();
      r.epoch = epoch + 1, r.lr = lr, r.mean_loss = epoch_sum / double(epoch_count), r.seconds = elapsed();
      log.epoch(r);
      if (std::isnan(first_epoch_loss)) first_epoch_loss = r.mean_loss;
      last_epoch_loss = r.mean_loss;
      epoch_sum = 0, epoch_count = 0;
    }
    const bool limit = s.max_iterations > 0 && trainer.steps_done() >= s.max_iterations && trainer.steps_done() < total;
    if (epoch_end || (iteration + 1) % s.checkpoint_every == 0 || InterruptGuard::requested() || limit) save_state();
    if (InterruptGuard::requested() || limit) {
      log.note(std::string(InterruptGuard::requested() ? "interrupted" : "stopped") + " after iteration " +
               std::to_string(trainer.steps_done()) + "; checkpoint saved to " + s.checkpoint +
               "; continue with the same command and --resume");
      return InterruptGuard::requested() ? 130 : 0;
    }
  }

  save_outputs(s, trainer);
  std::ostringstream summary;
  summary.precision(5);
  summary << "done in " << elapsed() << " s: " << s.out << " (params"
          << (s.trainer.ema_decay > 0 ? " + params_ema" : "") << ")";
  log.note(summary.str());
  if (!std::isnan(first_epoch_loss) && !std::isnan(last_epoch_loss)) {
    std::ostringstream losses;
    losses.precision(5);
    losses << "  mean training loss: first epoch " << first_epoch_loss << ", last epoch " << last_epoch_loss << " ("
           << 100.0 * (first_epoch_loss - last_epoch_loss) / first_epoch_loss << "% lower)";
    log.note(losses.str());
  }
  std::ostringstream change;
  change << "  mean |weight change| from the initial model: " << mean_abs_change(trainer.weights(), reference);
  log.note(change.str());
  return 0;
}

}  // namespace

int run_finetune(int argc, char** argv) {
  const Args args(argc, argv, kSpec);
  if (args.help()) {
    std::fputs(help_text(kSpec).c_str(), stdout);
    return 0;
  }
  return train(parse_settings(args));
}

}  // namespace microsr::cli
