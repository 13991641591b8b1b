#include "dispatch-server/common/text_file.h"

#include "geo/input_limits.h"

namespace cit::dispatch {

absl::StatusOr<std::string> ReadTextFile(const std::filesystem::path& path) {
  // Config, token and PEM files: regular files of bounded size (not /dev/zero, not a FIFO).
  return geo::ReadFileBounded(path, kMaxTextFileBytes);
}

}  // namespace cit::dispatch
