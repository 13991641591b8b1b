// String concatenation for error messages and logs. Debian 12's Abseil is built with its own
// absl::string_view (not std::string_view), so absl::StrCat rejects std::string_view arguments;
// this accepts anything with an ostream operator<<.
//
//   return absl::InternalError(Cat("record ", vehicle_id, " seq ", seq, " failed"));
//
// Thread contract: pure function.
#ifndef CIT_DISPATCH_COMMON_STR_CAT_H_
#define CIT_DISPATCH_COMMON_STR_CAT_H_

#include <sstream>
#include <string>

namespace cit::dispatch {

template <typename... Args>
std::string Cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_COMMON_STR_CAT_H_
