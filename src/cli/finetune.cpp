// microsr finetune: fine-tune an RRDBNet on (LR, HR) pairs with L1 + Adam, as the seed did.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "args.h"
#include "device_choice.h"
#include "finetune_console.h"
#include "microsr/finetune.h"
#include "subcommands.h"

namespace fs = std::filesystem;

namespace microsr::cli {

namespace {

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

// The command's settings: the run's (FinetuneSettings) and the backend's.
struct Settings {
  FinetuneSettings run;
  std::string device;
  int threads = 0;
};

const FinetuneSettings kDefaults;  // the seed's recipe (Adam, StepLR), BasicSR's EMA
const LrSchedule& kSchedule = kDefaults.schedule;
const TrainerOptions& kTrainer = kDefaults.trainer;

const CommandSpec kSpec{
    "finetune",
    "--pairs DIR -o OUT.pth [options]",
    R"(Fine-tunes an RRDBNet (RealESRGAN_x4plus by default) on the pairs `microsr make-pairs` wrote:
L1 loss on aligned random patches, Adam, a step learning-rate schedule, an EMA of the weights.
One epoch visits every pair once in a random order (batches of --batch; the last partial batch
sits out). OUT.pth holds {"params", "params_ema"} as BasicSR saves them: torch.load, Real-ESRGAN
and `microsr upscale --model` read it (they use params_ema; upscale --weights params picks the
other).
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
        flag("--no-ema-warmup",
             "a constant EMA decay from the first step (BasicSR's); by default the\n"
             "decay ramps up as min(X, (1 + t) / (10 + t)) so that a short run's\n"
             "average is not mostly the starting model"),
        flag("--no-flips", "no random horizontal/vertical flips of the patches"),
        text("--val", "DIR", "",
             "validation pairs: L1, PSNR and SSIM of the whole images each epoch,\n"
             "for params and (when the EMA is on) params_ema"),
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
  Settings settings;
  FinetuneSettings& s = settings.run;
  s.pairs = args.get("--pairs");
  s.out = args.output();
  require_usage(!s.pairs.empty(), "--pairs DIR is required (a folder made by microsr make-pairs)");
  require_usage(!s.out.empty(), "-o OUT.pth is required");
  require_usage(fs::path(s.out).extension() == ".pth", "-o must name a .pth file, got '" + s.out + "'");
  s.init = args.get("--init");  // "" = the default model, looked up unless resuming
  s.val = args.get("--val");
  s.checkpoint = args.get("--checkpoint");  // "" = the default beside OUT
  settings.device = args.get("--device");
  s.epochs = args.get_int("--epochs");
  s.batch = args.get_int("--batch");
  s.patch = args.get_int("--patch");
  settings.threads = args.get_int("--threads");
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
  s.trainer.ema_warmup = !args.has("--no-ema-warmup");
  return settings;
}

// The run's closing lines: where the weights are, how far the loss fell, how far the weights moved.
void print_summary(const FinetuneSettings& s, const FinetuneResult& r, FinetuneConsole& console) {
  std::ostringstream summary;
  summary.precision(5);
  summary << "done in " << r.seconds << " s: " << s.out << " (params"
          << (s.trainer.ema_decay > 0 ? " + params_ema" : "") << ")";
  console.note(summary.str());
  if (!std::isnan(r.first_epoch_loss) && !std::isnan(r.last_epoch_loss)) {
    std::ostringstream losses;
    losses.precision(5);
    losses << "  mean training loss: first epoch " << r.first_epoch_loss << ", last epoch " << r.last_epoch_loss << " ("
           << std::abs(100.0 * (r.first_epoch_loss - r.last_epoch_loss) / r.first_epoch_loss) << "% "
           << (r.last_epoch_loss <= r.first_epoch_loss ? "lower" : "higher") << ")";
    console.note(losses.str());
  }
  std::ostringstream change;
  change << "  mean |weight change| from the initial model: " << r.mean_weight_change;
  console.note(change.str());
}

int train(Settings settings) {
  FinetuneSettings& s = settings.run;
  DeviceChoice choice;
  choice.device = settings.device;
  choice.threads = settings.threads;
  auto backend = make_backend(choice);
  FinetuneConsole console;
  const FinetuneResult result = finetune(s, *backend, console);
  switch (result.end) {
    case FinetuneResult::End::finished:
      print_summary(s, result, console);
      return 0;
    case FinetuneResult::End::limit:
      return 0;
    case FinetuneResult::End::interrupted:
      return 130;
    case FinetuneResult::End::diverged:
      return 1;
  }
  return 1;
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
