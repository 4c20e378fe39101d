// A whole fine-tuning run, as a library call: `microsr finetune` and the pipeline both use it.
//
// finetune(settings, backend, observer) does what the seed's training script did, plus what a
// long run needs to survive interruptions:
//   load the pairs (and validation pairs) → load the starting weights, or the checkpoint when
//   resuming (which must have been made with the same settings) → per iteration: a batch of
//   random aligned patches, Trainer::step, a CSV row → per epoch: validation and a CSV row →
//   a checkpoint at every epoch end, every `checkpoint_every` iterations and when stopped →
//   at the end: OUT.pth ({"params", "params_ema"}, as BasicSR saves them).
//
// The files a run writes beside OUT.pth (`out` = "DIR/NAME.pth"):
//   DIR/NAME.ckpt.safetensors   the resumable state (weights, Adam moments, EMA, step, sampler)
//   DIR/NAME.iterations.csv     iteration,epoch,lr,loss,grad_norm,images_per_s
//   DIR/NAME.epochs.csv         epoch,lr,mean_loss,val_l1,val_psnr,val_ssim,ema_val_l1,
//                               ema_val_psnr,ema_val_ssim,seconds (val_: params; ema_val_:
//                               params_ema; empty when there is no validation or no EMA)
//   DIR/NAME.safetensors        the final weights (the EMA when on), when `safetensors` is set
// DIR is created when missing. A resumed run first drops the CSV rows written after its
// checkpoint, so the logs read as if the run had never stopped.
#pragma once
#include <cstdint>
#include <string>

#include "microsr/backend.h"
#include "microsr/train.h"

namespace microsr {

struct FinetuneSettings {
  std::string pairs;       // training pairs: a folder written by make-pairs
  std::string val;         // validation pairs ("" = none)
  std::string out;         // OUT.pth
  std::string init;        // the starting weights (any format load_rrdbnet_weights reads; "" = default_model_path())
  std::string checkpoint;  // "" = OUT with .ckpt.safetensors
  int epochs = 50, batch = 4, patch = 128;  // patch: the HR side, a multiple of the scale
  int checkpoint_every = 500;               // iterations
  int64_t max_iterations = 0;               // > 0: stop (with a checkpoint) after this many in all
  bool resume = false, flips = true;
  bool safetensors = false;  // also write OUT.safetensors
  uint64_t seed = 0;         // patch positions, order and flips
  LrSchedule schedule;       // the seed's StepLR(16, 0.5) from 1e-4
  TrainerOptions trainer;    // Adam(0.9, 0.999), an EMA (0.999) warmed up

  // The settings a resumed run must share with the one it continues, as one line.
  std::string fingerprint() const;
  std::string checkpoint_path() const;  // `checkpoint`, or its default
  std::string iterations_csv() const;
  std::string epochs_csv() const;
  std::string safetensors_path() const;
};

struct IterationRecord {
  int64_t iteration = 0, total = 0;  // 1-based, of total
  int epoch = 0;                     // 1-based
  double lr = 0, loss = 0, grad_norm = 0;
  double images_per_second = 0;  // since the run (or its resumption) started
  double seconds = 0;            // since the run (or its resumption) started
};

// Mean L1, PSNR and SSIM over the validation pairs (whole images, the output clamped to [0, 1]
// for PSNR and SSIM, as it would be saved).
struct ValidationScores {
  double l1 = 0, psnr = 0, ssim = 0;
};

struct EpochRecord {
  int epoch = 0;  // 1-based; 0 is the state before training (validation only)
  double lr = 0;
  double mean_loss = 0;      // mean training L1 over the epoch's iterations (NaN for epoch 0)
  bool has_val = false;      // validation pairs were given:
  ValidationScores val;      //   the weights as trained (OUT.pth's "params")
  bool has_ema_val = false;  //   and, when the EMA is on,
  ValidationScores ema_val;  //   their moving average ("params_ema", what upscale loads by default)
  double seconds = 0;        // since the run (or its resumption) started
};

// What the caller hears of a run while it goes. Every method has a do-nothing default.
class FinetuneObserver {
 public:
  virtual ~FinetuneObserver() = default;
  virtual void note(const std::string& /*line*/) {}  // a sentence for the person watching
  virtual void iteration(const IterationRecord& /*record*/) {}
  virtual void epoch(const EpochRecord& /*record*/) {}
  // Polled after every iteration: true saves a checkpoint and ends the run (`interrupted`).
  virtual bool stop_requested() { return false; }
};

struct FinetuneResult {
  enum class End {
    finished,     // every epoch ran; OUT.pth written
    limit,        // stopped at max_iterations, checkpoint saved
    interrupted,  // stop_requested(), checkpoint saved
    diverged,     // a loss or gradient was not finite; the last checkpoint (if any) untouched
  };
  End end = End::finished;
  int64_t iterations = 0;                            // done in all, resumed ones included
  double seconds = 0;                                // this call's wall-clock time
  double first_epoch_loss = 0, last_epoch_loss = 0;  // NaN until an epoch ends
  double mean_weight_change = 0;                     // mean |θ − θ_init| (finished runs only)
};

// Runs (or resumes) the fine-tuning `settings` describe on `backend`. Throws Error for what
// stops a run before it starts (missing pairs, a model of the wrong scale, a checkpoint made
// with other settings, …); a run that starts always ends with a FinetuneResult.
FinetuneResult finetune(const FinetuneSettings& settings, Backend& backend, FinetuneObserver& observer);

}  // namespace microsr
