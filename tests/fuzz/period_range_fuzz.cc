// Fuzz target: what a person types for `dispatchctl report` (dispatchctl/period_range.h): the
// --from and --to texts and a --group file. The input's first line is --from, the second
// --to, the rest the group file. Every input is either refused with a message or gives a
// period that starts before it ends and vehicle ids without blanks.
//
// Run: build/fuzz/tests/fuzz/fuzz_period_range -max_total_time=60 DIR
//      tests/fuzz/corpus/period_range (docs/fuzzing.md).
#include <google/protobuf/util/time_util.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dispatchctl/period_range.h"

namespace {

std::string_view NextLine(std::string_view& text) {
  const std::size_t end = text.find('\n');
  std::string_view line = text.substr(0, end);
  text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string_view from = NextLine(text);
  const std::string_view to = NextLine(text);
  absl::StatusOr<cit::ctl::Period> p = cit::ctl::ParsePeriod(from, to);
  if (p.ok()) {
    if (!(p->from < p->to)) __builtin_trap();
  } else if (p.status().message().empty()) {
    __builtin_trap();
  }
  absl::StatusOr<std::vector<std::string>> ids = cit::ctl::ParseVehicleList(text);
  if (ids.ok()) {
    if (ids->size() > 10000) __builtin_trap();
    for (const std::string& id : *ids) {
      if (id.empty() || id.front() == '#') __builtin_trap();
      for (unsigned char c : id) {
        if (c <= 0x20 || c == 0x7f) __builtin_trap();
      }
    }
  } else if (ids.status().message().empty()) {
    __builtin_trap();
  }
  return 0;
}
