// A whole fine-tuning run: starting point, the iteration loop, validation, checkpoints, outputs
// (see include/microsr/finetune.h for what each file holds).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "io/file_bytes.h"
#include "microsr/finetune.h"
#include "microsr/metrics.h"
#include "microsr/pairs.h"
#include "training_csv.h"

namespace fs = std::filesystem;

namespace microsr {

namespace {

// OUT.pth → OUT<suffix> (the stem kept, the extension replaced).
std::string with_suffix(const std::string& out, const std::string& suffix) {
  const fs::path p(out);
  return (p.parent_path() / p.stem()).string() + suffix;
}

// A double as text that reads back to the same bits (hexadecimal floating point).
std::string exact_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}
double from_exact_text(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

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

// L1, PSNR and SSIM of the network's output on every validation pair (whole images).
ValidationScores validate(RRDBNet& net, Backend& backend, const PairSet& val) {
  ValidationScores r;
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
    r.l1 += l1 / double(sr.numel());
    r.psnr += psnr(s, p.hr.pixels.data(), 3, p.hr.width, p.hr.height);
    r.ssim += ssim(s, p.hr.pixels.data(), 3, p.hr.width, p.hr.height);
  }
  const double n = double(val.pairs.size());
  r.l1 /= n, r.psnr /= n, r.ssim /= n;
  return r;
}

// The mean training loss of the epoch under way and of the first and last finished epochs:
// carried in the checkpoint, so that a resumed run's logs and summary read as one run's.
struct EpochLossTally {
  double sum = 0;
  int64_t count = 0;
  double first_epoch = NAN, last_epoch = NAN;

  void add(double loss) { sum += loss, ++count; }
  double close_epoch() {  // the finished epoch's mean
    const double mean = sum / double(count);
    if (std::isnan(first_epoch)) first_epoch = mean;
    last_epoch = mean;
    sum = 0, count = 0;
    return mean;
  }
  void save(std::map<std::string, std::string>& info) const {
    info["epoch_loss_sum"] = exact_text(sum);
    info["epoch_loss_count"] = std::to_string(count);
    info["first_epoch_loss"] = exact_text(first_epoch);
  }
  void load(const std::map<std::string, std::string>& info) {
    sum = from_exact_text(info.at("epoch_loss_sum"));
    count = std::stoll(info.at("epoch_loss_count"));
    first_epoch = from_exact_text(info.at("first_epoch_loss"));
  }
};

void save_outputs(const FinetuneSettings& s, const Trainer& trainer) {
  const StateDict params = trainer.weights();
  const StateDict ema = trainer.ema_weights();
  std::vector<std::pair<std::string, const StateDict*>> groups = {{"params", &params}};
  if (s.trainer.ema_decay > 0) groups.push_back({"params_ema", &ema});
  io::replace_file_atomically(s.out, [&](const std::string& temp) { save_pth_groups(temp, groups); });
  if (s.safetensors)
    io::replace_file_atomically(s.safetensors_path(), [&](const std::string& temp) { save_safetensors(temp, ema); });
}

// The folders the run writes into, created when missing (an error names the one that fails).
void create_parent_folders(const FinetuneSettings& s) {
  for (const std::string& file : {s.out, s.checkpoint_path()}) {
    const fs::path folder = fs::path(file).parent_path();
    if (folder.empty()) continue;
    std::error_code ec;
    fs::create_directories(folder, ec);
    require(!ec && fs::is_directory(folder),
            "cannot create the output folder " + folder.string() + (ec ? ": " + ec.message() : ""));
  }
}

}  // namespace

std::string FinetuneSettings::fingerprint() const {
  std::ostringstream os;
  os << "epochs=" << epochs << " batch=" << batch << " patch=" << patch << " seed=" << seed << " flips=" << flips
     << " schedule=" << schedule.describe() << " beta1=" << trainer.adam.beta1 << " beta2=" << trainer.adam.beta2
     << " eps=" << trainer.adam.eps << " wd=" << trainer.adam.weight_decay << " adamw=" << trainer.adam.decoupled
     << " clip=" << trainer.clip_grad_norm << " ema=" << trainer.ema_decay << " ema_warmup=" << trainer.ema_warmup;
  return os.str();
}
std::string FinetuneSettings::checkpoint_path() const {
  return checkpoint.empty() ? with_suffix(out, ".ckpt.safetensors") : checkpoint;
}
std::string FinetuneSettings::iterations_csv() const { return with_suffix(out, ".iterations.csv"); }
std::string FinetuneSettings::epochs_csv() const { return with_suffix(out, ".epochs.csv"); }
std::string FinetuneSettings::safetensors_path() const { return with_suffix(out, ".safetensors"); }

FinetuneResult finetune(const FinetuneSettings& s, Backend& backend, FinetuneObserver& observer) {
  const std::string checkpoint_path = s.checkpoint_path();
  const PairSet pairs = PairSet::load(s.pairs);
  require(!pairs.pairs.empty(), s.pairs + ": no training pairs");
  const PairSet val = s.val.empty() ? PairSet{} : PairSet::load(s.val, pairs.scale);

  // The starting point: the checkpoint when resuming, `init` otherwise.
  TrainingCheckpoint checkpoint;
  if (s.resume) {
    require(fs::exists(checkpoint_path), "--resume: no checkpoint at " + checkpoint_path);
    checkpoint = load_checkpoint(checkpoint_path);
    require(checkpoint.info["settings"] == s.fingerprint(),
            "--resume: " + checkpoint_path + " was made with other settings:\n  it:   " + checkpoint.info["settings"] +
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
  create_parent_folders(s);
  RRDBNet net(config, initial, backend);
  Trainer trainer(net, backend, s.trainer);

  PatchOptions patch_options;
  patch_options.batch = s.batch;
  patch_options.lr_patch = s.patch / config.scale;
  patch_options.flips = s.flips;
  patch_options.seed = s.seed;
  PatchSampler sampler(pairs, patch_options);
  const int64_t per_epoch = sampler.batches_per_epoch();
  const int64_t total = per_epoch * s.epochs;
  EpochLossTally losses;
  if (s.resume) {
    trainer.load_optimizer_state(checkpoint.optimizer, std::stoll(checkpoint.info.at("steps")));
    sampler.load_state(checkpoint.info.at("sampler"));
    require(sampler.batches_drawn() == trainer.steps_done(),
            checkpoint_path + ": the sampler and optimizer disagree on the step");
    losses.load(checkpoint.info);
  }
  bool checkpoint_exists = s.resume;  // a state of this run that a diverged run can go back to
  auto save_state = [&] {
    TrainingCheckpoint c;
    c.weights = trainer.weights();
    c.optimizer = trainer.optimizer_state();
    c.info = {{"settings", s.fingerprint()},
              {"steps", std::to_string(trainer.steps_done())},
              {"sampler", sampler.save_state()},
              {"init", init_path}};
    losses.save(c.info);
    save_checkpoint(checkpoint_path, c);
    checkpoint_exists = true;
  };

  train_detail::TrainingCsv csv(s.iterations_csv(), s.epochs_csv(), trainer.steps_done(),
                                int(trainer.steps_done() / per_epoch));
  observer.note("finetune: " + config.describe() + " on " + backend.name());
  observer.note("  " + std::to_string(pairs.size()) + " pairs from " + s.pairs + ", " + std::to_string(per_epoch) +
                " iterations/epoch × " + std::to_string(s.epochs) + " epochs, batch " + std::to_string(s.batch) +
                ", HR patch " + std::to_string(s.patch) + ", " + s.schedule.describe());
  if (s.resume)
    observer.note("  resuming at iteration " + std::to_string(trainer.steps_done()) + " from " + checkpoint_path);

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  auto record_epoch = [&](EpochRecord r) {
    r.seconds = elapsed();
    csv.epoch(r);
    observer.epoch(r);
  };
  // Validation of both weight sets OUT.pth holds: the trained ones and, when on, their EMA.
  auto validation = [&]() -> EpochRecord {
    EpochRecord r;
    if (val.pairs.empty()) return r;
    r.has_val = true;
    r.val = validate(net, backend, val);
    if (s.trainer.ema_decay > 0) {
      RRDBNet ema_net(config, trainer.ema_weights(), backend);
      r.has_ema_val = true;
      r.ema_val = validate(ema_net, backend, val);
    }
    return r;
  };
  if (!s.resume && !val.pairs.empty()) {
    EpochRecord before = validation();
    before.epoch = 0, before.lr = s.schedule.lr_at(0), before.mean_loss = NAN;
    record_epoch(before);
  }

  FinetuneResult result;
  auto finish = [&](FinetuneResult::End end) {
    result.end = end;
    result.iterations = trainer.steps_done();
    result.seconds = elapsed();
    result.first_epoch_loss = losses.first_epoch;
    result.last_epoch_loss = losses.last_epoch;
    return result;
  };

  const int64_t first_iteration = trainer.steps_done();
  Tensor lr_batch, hr_batch;
  while (trainer.steps_done() < total) {
    const int64_t iteration = trainer.steps_done();  // 0-based: the one about to run
    const int epoch = int(iteration / per_epoch);
    const double lr = s.schedule.lr_at(epoch);
    sampler.next_batch(lr_batch, hr_batch);
    double loss = 0;
    try {
      loss = trainer.step(lr_batch, hr_batch, lr);
    } catch (const Error& e) {  // not finite: the weights and optimizer state are as they were
      observer.note(std::string("stopping: ") + e.what());
      observer.note(checkpoint_exists ? "the last good checkpoint is " + checkpoint_path + " (not overwritten)"
                                      : "no checkpoint was saved before this (iteration " +
                                            std::to_string(iteration + 1) + "); nothing to resume from");
      return finish(FinetuneResult::End::diverged);
    }
    IterationRecord it;
    it.iteration = iteration + 1, it.total = total, it.epoch = epoch + 1;
    it.lr = lr, it.loss = loss, it.grad_norm = trainer.last_grad_norm();
    it.seconds = elapsed();
    it.images_per_second = double(s.batch) * double(it.iteration - first_iteration) / std::max(it.seconds, 1e-9);
    csv.iteration(it);
    observer.iteration(it);
    losses.add(loss);

    const bool epoch_end = (iteration + 1) % per_epoch == 0;
    if (epoch_end) {
      EpochRecord r = validation();
      r.epoch = epoch + 1, r.lr = lr, r.mean_loss = losses.close_epoch();
      record_epoch(r);
    }
    const bool stop = observer.stop_requested();
    const bool limit = s.max_iterations > 0 && trainer.steps_done() >= s.max_iterations && trainer.steps_done() < total;
    if (epoch_end || (iteration + 1) % s.checkpoint_every == 0 || stop || limit) save_state();
    if (stop || limit) {
      observer.note(std::string(stop ? "interrupted" : "stopped") + " after iteration " +
                    std::to_string(trainer.steps_done()) + "; checkpoint saved to " + checkpoint_path +
                    "; continue with the same command and --resume");
      return finish(stop ? FinetuneResult::End::interrupted : FinetuneResult::End::limit);
    }
  }

  save_outputs(s, trainer);
  const StateDict reference = s.resume ? load_rrdbnet_weights(init_path) : initial;
  result.mean_weight_change = mean_abs_change(trainer.weights(), reference);
  return finish(FinetuneResult::End::finished);
}

}  // namespace microsr
