// Network namespaces for tests: uniquely named, always deleted (with every process left in
// them), and enterable by the calling thread so in-process netlink code runs inside.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/process.h"

namespace wgmesh::test {

// Every namespace a test creates starts with this, so tools/run-tests can sweep leftovers
// of a crashed test run.
inline constexpr const char* kNamespacePrefix = "wgmt-";

// Empty when the netns suites can run here; otherwise the one-line reason to skip.
std::string netns_unavailable_reason();

#define WGMESH_REQUIRE_NETNS()                                              \
    do {                                                                    \
        const std::string why = ::wgmesh::test::netns_unavailable_reason(); \
        if (!why.empty())                                                   \
            GTEST_SKIP() << why;                                            \
    } while (0)

class TestNamespace {
  public:
    explicit TestNamespace(const std::string& tag);
    ~TestNamespace();
    TestNamespace(const TestNamespace&) = delete;
    TestNamespace& operator=(const TestNamespace&) = delete;

    const std::string& name() const { return name_; }
    // Runs argv inside the namespace (ip netns exec NAME ...).
    CommandResult exec(const std::vector<std::string>& argv, const std::string& input = "") const;
    std::string exec_checked(const std::vector<std::string>& argv,
                             const std::string& input = "") const;

    // While alive, the calling thread is inside the namespace (setns); restores on exit.
    class Scope {
      public:
        explicit Scope(const std::string& name);
        ~Scope();
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

      private:
        int original_fd_ = -1;
    };
    [[nodiscard]] Scope enter() const { return Scope(name_); }

  private:
    std::string name_;
};

// A veth pair between two namespaces with addresses "a_cidr" and "b_cidr", both up.
void connect_veth(const TestNamespace& a, const std::string& a_if, const std::string& a_cidr,
                  const TestNamespace& b, const std::string& b_if, const std::string& b_cidr);

}  // namespace wgmesh::test
