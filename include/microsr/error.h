// Errors: library code never calls exit(); it throws microsr::Error with a message a user can act
// on — which file or operation, what was expected, what was found.
//
// The message is for people. Code that must react to a kind of failure catches its type:
//   OutOfMemory  a device (or host buffer) allocation failed; a smaller tile or batch may fit.
//                The tiler halves its tile on it; cuDNN's algorithm search retries with less.
//   DeviceError  the CUDA runtime reported a failure (a launch, a copy, a lost device). It may
//                be sticky, so it is never taken for "this algorithm cannot do it".
//   UsageError   the command line is wrong (unknown or bad option, bad value, missing argument);
//                the program exits with status 2 on it, before any work is done.
// Everything else is a plain Error: bad input, an unsupported case, a refusal.
#pragma once
#include <stdexcept>
#include <string>

namespace microsr {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

class OutOfMemory : public Error {
 public:
  using Error::Error;
};

class DeviceError : public Error {
 public:
  using Error::Error;
};

class UsageError : public Error {  // a wrong command line: exit status 2
 public:
  using Error::Error;
};

// Throws Error(message) when `condition` is false. Use for input validation, not for bugs.
inline void require(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

}  // namespace microsr
