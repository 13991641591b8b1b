#include "geo/input_limits.h"

#include <algorithm>
#include <fstream>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cit::geo {
namespace {

struct Depth {
  std::size_t depth = 0;
  std::size_t offset = 0;  // where it was first reached
};

Depth ScanJson(std::string_view text, std::size_t stop_after) {
  Depth max;
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is, cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max.depth) {
        max = Depth{depth, i};
        if (depth > stop_after) break;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max;
}

// TOML: see TomlNestingDepth. `offset` is the byte where the depth was first exceeded.
Depth ScanToml(std::string_view text, std::size_t stop_after) {
  Depth max;
  std::vector<std::size_t> bases;  // `base` outside each open bracket
  std::size_t base = 0;            // nesting of the innermost open bracket
  std::size_t run_dots = 0;        // dots since the last delimiter: the key being read
  std::size_t key_dots = 0;        // dots of the key before the last '='
  auto note = [&](std::size_t depth, std::size_t i) {
    if (depth > max.depth) max = Depth{depth, i};
    return depth > stop_after;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"' || c == '\'') {
      // Basic ("), literal ('), and their multi-line forms (""" and ''').
      const bool triple = text.substr(i, 3) == std::string(3, c);
      const std::size_t open = triple ? 3 : 1;
      std::size_t j = i + open;
      for (; j < text.size(); ++j) {
        if (c == '"' && text[j] == '\\') {
          ++j;
        } else if (text[j] == c && (!triple || text.substr(j, 3) == std::string(3, c))) {
          break;
        } else if (!triple && text[j] == '\n') {
          break;  // unterminated: the parser will say so
        }
      }
      i = triple ? j + 2 : j;
      continue;
    }
    switch (c) {
      case '#':
        while (i < text.size() && text[i] != '\n') ++i;
        run_dots = key_dots = 0;
        break;
      case '.':
        if (note(base + ++run_dots + 1, i)) return max;
        break;
      case '=':
        key_dots = run_dots;
        run_dots = 0;
        break;
      case '[':
      case '{':
        bases.push_back(base);
        base += key_dots + 1;
        run_dots = key_dots = 0;
        if (note(base + 1, i)) return max;
        break;
      case ']':
      case '}':
        if (!bases.empty()) {
          base = bases.back();
          bases.pop_back();
        }
        run_dots = key_dots = 0;
        break;
      case ',':
      case '\n':
        run_dots = key_dots = 0;
        break;
      default:
        break;
    }
  }
  return max;
}

std::size_t LineOf(std::string_view text, std::size_t offset) {
  return 1 + static_cast<std::size_t>(
                 std::count(text.begin(), text.begin() + std::min(offset, text.size()), '\n'));
}

}  // namespace

std::size_t TomlNestingDepth(std::string_view text, std::size_t stop_after) {
  return ScanToml(text, stop_after).depth;
}

absl::Status CheckTomlNesting(std::string_view text, std::string_view source_name,
                              std::size_t max_depth) {
  const Depth d = ScanToml(text, max_depth);
  if (d.depth <= max_depth) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      absl::string_view(source_name.data(), source_name.size()), ": TOML nested more than ",
      max_depth, " levels deep (tables, arrays and dotted keys; line ", LineOf(text, d.offset),
      "); a plan needs fewer than 10 — is this the right file?"));
}

std::size_t JsonNestingDepth(std::string_view text, std::size_t stop_after) {
  return ScanJson(text, stop_after).depth;
}

absl::Status CheckJsonNesting(std::string_view text, std::string_view source_name,
                              std::size_t max_depth) {
  const Depth d = ScanJson(text, max_depth);
  if (d.depth <= max_depth) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(absl::string_view(source_name.data(), source_name.size()),
                   ": JSON nested more than ", max_depth, " levels deep (at byte ", d.offset,
                   "); a route or plan needs fewer than 10 — is this the right file?"));
}

absl::StatusOr<std::string> ReadFileBounded(const std::filesystem::path& path,
                                            std::size_t max_bytes) {
  const std::string name = path.string();
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    return absl::NotFoundError(absl::StrCat(name, ": no such file"));
  }
  if (!std::filesystem::is_regular_file(st)) {
    // A device (/dev/zero), FIFO or directory never ends or cannot be read as text.
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": not a regular file; give the path of a file on disk"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::PermissionDeniedError(absl::StrCat(name, ": cannot open for reading"));
  std::string out;
  char buf[64 * 1024];
  // Read at most max_bytes + 1: the file may have grown since status() looked at it.
  while (in && out.size() <= max_bytes) {
    in.read(buf, static_cast<std::streamsize>(
                     std::min<std::size_t>(sizeof(buf), max_bytes + 1 - out.size())));
    out.append(buf, static_cast<std::size_t>(in.gcount()));
  }
  if (out.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": larger than ", max_bytes, " bytes; split it or check the path"));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(name, ": read failed"));
  return out;
}

}  // namespace cit::geo
