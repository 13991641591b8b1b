// The headers most of cit_dispatch's sources include, precompiled once for the library
// (CIT_LIB_PCH, cmake/CitTargets.cmake): parsing them was ~2 s of CPU in each of ~150 sources.
// Only headers whose meaning does not depend on the including source's macros belong here; each
// source still includes what it uses, so it builds the same without this file.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cit/v1/dispatch.pb.h"
#include "cit/v1/telemetry.pb.h"
#include "fmt/format.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "spdlog/spdlog.h"
