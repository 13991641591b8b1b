// The headers (nearly) every test includes, precompiled once per test component
// (tests/CMakeLists.txt, CIT_TEST_PCH). Only headers whose meaning does not depend on the
// including test's macros belong here; a test still includes what it uses, so it builds the
// same without this file.
#pragma once

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cit/v1/dispatch.grpc.pb.h"
#include "cit/v1/telemetry.grpc.pb.h"
