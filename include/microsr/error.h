// Errors: library code never calls exit(); it throws microsr::Error with a message a user can act
// on — which file or operation, what was expected, what was found.
#pragma once
#include <stdexcept>
#include <string>

namespace microsr {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error(message) when `condition` is false. Use for input validation, not for bugs.
inline void require(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

}  // namespace microsr
