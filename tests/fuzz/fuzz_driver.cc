// A small stand-in for libFuzzer's main(), so the fuzz targets in tests/fuzz run with GCC and
// under CTest (docs/fuzzing.md). Links with one target that defines LLVMFuzzerTestOneInput.
//
//   fuzz_route tests/fuzz/corpus/route --runs=20000 --seed=1 --crash-dir=/tmp
//   fuzz_route /tmp/crash-fuzz_route            # reproduce one input (no mutations)
//
// It feeds (1) every file named on the command line or found (recursively) in a directory named
// there, then (2) `--runs` mutants of them made with a seeded PRNG (bit flips, byte inserts and
// deletes, chunk copies, splices of two inputs, truncations, "interesting" integers and tokens),
// so a run is reproducible. There is no coverage feedback; some mutants are kept in a small
// ring and mutated again so mutations stack. `--max-seconds` caps the mutation phase (slow
// sanitizer builds); the number of runs done is printed.
//
// On a crash (SIGSEGV, SIGABRT from an assert or an uncaught exception, SIGFPE, SIGBUS, SIGILL,
// a sanitizer report) or an input that runs longer than `--timeout` seconds, the input is
// written to `<crash-dir>/crash-<program>` (or timeout-<program>), its path printed, and the
// process exits non-zero (77 crash, 70 timeout, as libFuzzer; a sanitizer's own code under one).
//
// Thread contract: single-threaded program.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Present only in sanitizer builds: lets the driver save the input before the sanitizer exits.
extern "C" void __sanitizer_set_death_callback(void (*callback)()) __attribute__((weak));

namespace {

using Bytes = std::vector<uint8_t>;

// The input being run, for the signal handlers (which may only use async-signal-safe calls).
const uint8_t* g_current_data = nullptr;
size_t g_current_size = 0;
char g_crash_path[4096];
char g_timeout_path[4096];

void WriteStr(const char* s) {
  ssize_t ignored = write(STDERR_FILENO, s, strlen(s));
  (void)ignored;
}

void SaveCurrentInput(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    size_t done = 0;
    while (done < g_current_size) {
      ssize_t n = write(fd, g_current_data + done, g_current_size - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(fd);
  }
  WriteStr("\n==fuzz_driver== input that failed written to ");
  WriteStr(path);
  WriteStr("\n==fuzz_driver== reproduce: run this program with that file as its only argument\n");
}

void OnDeath() { SaveCurrentInput(g_crash_path); }

// Exit codes as libFuzzer's: 77 for a crash, 70 for a timeout (sanitizers exit with their own).
void OnCrashSignal(int sig) {
  WriteStr(sig == SIGABRT ? "\n==fuzz_driver== abort (assert, CHECK, uncaught exception, UBSan)"
                          : "\n==fuzz_driver== deadly signal");
  SaveCurrentInput(g_crash_path);
  _exit(77);
}

void OnAlarm(int) {
  WriteStr("\n==fuzz_driver== input ran longer than --timeout (hang?)");
  SaveCurrentInput(g_timeout_path);
  _exit(70);
}

void InstallHandlers(bool sanitized) {
  if (sanitized) {
    // The sanitizer's own SEGV handler reports and then calls the death callback.
    __sanitizer_set_death_callback(&OnDeath);
  } else {
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) signal(sig, &OnCrashSignal);
  }
  // abort() (failed assert, std::terminate on an uncaught exception) raises SIGABRT either way.
  signal(SIGABRT, &OnCrashSignal);
  signal(SIGALRM, &OnAlarm);
}

// splitmix64: tiny, good enough, and identical on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform-ish in [0, n); n > 0.
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }

 private:
  uint64_t state_;
};

// Values and tokens that tend to hit edge cases of the parsers under test: integer limits, and
// the punctuation, keywords and numbers of JSON, TOML, XML, polylines and the sensor protocol.
constexpr uint64_t kInterestingInts[] = {0,          1,          0x7f,        0x80,
                                         0xff,       0x7fff,     0x8000,      0xffff,
                                         0x7fffffff, 0x80000000, 0xffffffff,  0x7fffffffffffffff,
                                         ~0ull,      0x10,       0x100000000, 0x40};
constexpr std::string_view kTokens[] = {
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "=",
    "\n",
    "\r\n",
    " ",
    "\\",
    "\\u0000",
    "\\ud800",
    "-",
    "+",
    "0",
    "-1",
    "1e309",
    "-1e309",
    "1e-400",
    "nan",
    "inf",
    "NaN",
    "null",
    "true",
    "false",
    "<",
    ">",
    "</",
    "/>",
    "<![CDATA[",
    "&",
    "&#0;",
    "&amp;",
    "<!--",
    "-->",
    "<?xml ?>",
    "<rte>",
    "<trk>",
    "<trkpt lat=\"1\" lon=\"2\"/>",
    "<rtept lat=\"91\" lon=\"2\"/>",
    "[[1,2],[3,4]]",
    "\"type\":\"LineString\"",
    "\"coordinates\":",
    "features",
    "geometry",
    "18446744073709551616",
    "4294967296",
    "99999999999999999999",
    "[[",
    "]]",
    "now",
    "now+",
    "+15m",
    "-5m",
    "+99999999999h",
    "2026-11-29T08:00:00Z",
    "9999-12-31T23:59:59Z",
    "0000-00-00T00:00:00Z",
    "#",
    "'",
    "'''",
    "\"\"\"",
    "door",
    "seal",
    "panic",
    "crew",
    "open",
    "closed",
    "broken",
    "intact",
    "in",
    "out",
    "~",
    "?",
    "_",
    "@",
    "\x7f",
    "\xff",
    "\xc3\x28",
};

Bytes Mutate(const Bytes& base, const std::vector<Bytes>& pool, Rng& rng, size_t max_len) {
  Bytes b = base;
  const size_t steps = 1 + rng.Below(4);
  for (size_t s = 0; s < steps; ++s) {
    switch (rng.Below(11)) {
      case 0:  // flip one bit
        if (!b.empty()) b[rng.Below(b.size())] ^= static_cast<uint8_t>(1u << rng.Below(8));
        break;
      case 1:  // set a random byte
        if (!b.empty()) b[rng.Below(b.size())] = static_cast<uint8_t>(rng.Next());
        break;
      case 2:  // insert random bytes
      {
        size_t at = rng.Below(b.size() + 1), n = 1 + rng.Below(4);
        for (size_t i = 0; i < n; ++i)
          b.insert(b.begin() + static_cast<long>(at), static_cast<uint8_t>(rng.Next()));
        break;
      }
      case 3:  // delete a range
        if (!b.empty()) {
          size_t at = rng.Below(b.size());
          size_t n = 1 + rng.Below(std::min<size_t>(16, b.size() - at));
          b.erase(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + n));
        }
        break;
      case 4:  // copy a chunk elsewhere (duplicates structure: nesting, repeated fields)
        if (!b.empty()) {
          size_t from = rng.Below(b.size());
          size_t n = 1 + rng.Below(std::min<size_t>(64, b.size() - from));
          Bytes chunk(b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(from + n));
          size_t at = rng.Below(b.size() + 1);
          b.insert(b.begin() + static_cast<long>(at), chunk.begin(), chunk.end());
        }
        break;
      case 5:  // truncate
        if (!b.empty()) b.resize(rng.Below(b.size()));
        break;
      case 6:  // splice: a prefix of this input and a suffix of another
      {
        const Bytes& other = pool[rng.Below(pool.size())];
        size_t keep = rng.Below(b.size() + 1);
        size_t from = rng.Below(other.size() + 1);
        b.resize(keep);
        b.insert(b.end(), other.begin() + static_cast<long>(from), other.end());
        break;
      }
      case 7:  // overwrite with an interesting integer, 1/2/4/8 bytes, either endianness
        if (!b.empty()) {
          uint64_t v = kInterestingInts[rng.Below(std::size(kInterestingInts))];
          size_t width = size_t{1} << rng.Below(4);
          bool big = rng.Below(2) == 1;
          size_t at = rng.Below(b.size());
          for (size_t i = 0; i < width && at + i < b.size(); ++i) {
            size_t shift = 8 * (big ? width - 1 - i : i);
            b[at + i] = static_cast<uint8_t>(v >> shift);
          }
        }
        break;
      case 8:  // insert a token
      case 9: {
        std::string_view t = kTokens[rng.Below(std::size(kTokens))];
        size_t at = rng.Below(b.size() + 1);
        b.insert(b.begin() + static_cast<long>(at), t.begin(), t.end());
        break;
      }
      default:  // replace a digit run's digit with another digit (numbers at their limits)
        if (!b.empty()) {
          size_t at = rng.Below(b.size());
          for (size_t i = 0; i < b.size(); ++i) {
            size_t j = (at + i) % b.size();
            if (b[j] >= '0' && b[j] <= '9') {
              b[j] = static_cast<uint8_t>('0' + rng.Below(10));
              break;
            }
          }
        }
        break;
    }
  }
  if (b.size() > max_len) b.resize(max_len);
  return b;
}

bool ReadFile(const std::filesystem::path& path, Bytes& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

void RunOne(const Bytes& input, unsigned timeout_s) {
  // Run from a copy of exactly the input's size so ASan catches reads past its end.
  Bytes copy(input);
  g_current_data = copy.data();
  g_current_size = copy.size();
  if (timeout_s > 0) alarm(timeout_s);
  LLVMFuzzerTestOneInput(copy.empty() ? nullptr : copy.data(), copy.size());
  if (timeout_s > 0) alarm(0);
  g_current_data = nullptr;
  g_current_size = 0;
}

bool ParseFlag(std::string_view arg, std::string_view name, std::string& value) {
  if (arg.substr(0, name.size()) != name) return false;
  value = std::string(arg.substr(name.size()));
  return true;
}

int Usage(const char* prog) {
  std::fprintf(stderr,
               "usage: %s [--runs=N] [--seed=S] [--max-len=BYTES] [--max-seconds=S] "
               "[--timeout=S] [--crash-dir=DIR] FILE_OR_DIR...\n",
               prog);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t runs = 0, seed = 1;
  size_t max_len = 64 * 1024;
  double max_seconds = 0;  // 0: no cap
  unsigned timeout_s = 10;
  std::filesystem::path crash_dir = ".";
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string v;
    try {
      if (ParseFlag(arg, "--runs=", v)) {
        runs = std::stoull(v);
      } else if (ParseFlag(arg, "--seed=", v)) {
        seed = std::stoull(v);
      } else if (ParseFlag(arg, "--max-len=", v)) {
        max_len = std::stoull(v);
      } else if (ParseFlag(arg, "--max-seconds=", v)) {
        max_seconds = std::stod(v);
      } else if (ParseFlag(arg, "--timeout=", v)) {
        timeout_s = static_cast<unsigned>(std::stoul(v));
      } else if (ParseFlag(arg, "--crash-dir=", v)) {
        crash_dir = v;
      } else if (arg.substr(0, 2) == "--") {
        return Usage(argv[0]);
      } else {
        inputs.emplace_back(arg);
      }
    } catch (const std::exception&) {
      return Usage(argv[0]);
    }
  }

  const std::string prog = std::filesystem::path(argv[0]).filename().string();
  std::snprintf(g_crash_path, sizeof g_crash_path, "%s/crash-%s", crash_dir.c_str(), prog.c_str());
  std::snprintf(g_timeout_path, sizeof g_timeout_path, "%s/timeout-%s", crash_dir.c_str(),
                prog.c_str());
  InstallHandlers(__sanitizer_set_death_callback != nullptr);

  // Collect the seeds, sorted by path so the run does not depend on directory order.
  std::vector<std::filesystem::path> files;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(in, ec)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(in, ec))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (std::filesystem::is_regular_file(in, ec)) {
      files.push_back(in);
    } else {
      std::fprintf(stderr, "%s: no such file or directory: %s\n", prog.c_str(), in.c_str());
      return 2;
    }
  }
  std::sort(files.begin(), files.end());

  std::vector<Bytes> pool;
  for (const auto& f : files) {
    Bytes b;
    if (!ReadFile(f, b)) {
      std::fprintf(stderr, "%s: cannot read %s\n", prog.c_str(), f.c_str());
      return 2;
    }
    std::fprintf(stderr, "%s: seed %s (%zu bytes)\n", prog.c_str(), f.c_str(), b.size());
    RunOne(b, timeout_s);
    if (b.size() > max_len) b.resize(max_len);
    pool.push_back(std::move(b));
  }
  if (pool.empty()) pool.emplace_back();  // mutate from nothing
  RunOne(Bytes{}, timeout_s);             // the empty input, always

  // Mutation phase. Every 16th mutant joins a ring of 64, and bases are drawn from the seeds and
  // that ring alike, so mutations stack over time without unbounded growth.
  Rng rng(seed);
  std::vector<Bytes> ring;
  const auto start = std::chrono::steady_clock::now();
  uint64_t done = 0;
  for (; done < runs; ++done) {
    if (max_seconds > 0 && (done & 255) == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
            max_seconds) {
      std::fprintf(stderr, "%s: --max-seconds reached\n", prog.c_str());
      break;
    }
    const bool from_ring = !ring.empty() && rng.Below(2) == 1;
    const Bytes& base = from_ring ? ring[rng.Below(ring.size())] : pool[rng.Below(pool.size())];
    Bytes mutant = Mutate(base, pool, rng, max_len);
    RunOne(mutant, timeout_s);
    if ((done & 15) == 0) {
      if (ring.size() < 64) {
        ring.push_back(std::move(mutant));
      } else {
        ring[rng.Below(ring.size())] = std::move(mutant);
      }
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "%s: %zu seeds, %llu mutants (seed %llu) in %.1f s: no crash\n",
               prog.c_str(), files.size(), static_cast<unsigned long long>(done),
               static_cast<unsigned long long>(seed), secs);
  return 0;
}
