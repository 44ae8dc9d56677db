/*
 * Stand-in for the macOS SDK's TargetConditionals.h so C code (ring) can be
 * type-checked for aarch64-apple-darwin on Linux without an Apple SDK.
 * Only used with -nostdinc -ffreestanding; see .ci/cross-env.sh.
 * Used even when real Darwin libc headers are on the path (no #include_next):
 * the current SDK's TargetConditionals.h needs clang >= 18's
 * -fdefine-target-os-macros and #errors ("KernelKit requires ...") on
 * Debian 12's clang 14.
 */
#ifndef JCDIAG_CI_TARGETCONDITIONALS_H
#define JCDIAG_CI_TARGETCONDITIONALS_H

#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_MACCATALYST 0
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_VISION 0
#define TARGET_OS_XR 0
#define TARGET_OS_BRIDGE 0
#define TARGET_OS_DRIVERKIT 0
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_EMBEDDED 0
#define TARGET_OS_UNIX 0
#define TARGET_OS_WIN32 0
#define TARGET_OS_LINUX 0
#define TARGET_IPHONE_SIMULATOR 0

#if defined(__aarch64__) || defined(__arm64__)
#define TARGET_CPU_ARM64 1
#define TARGET_CPU_X86_64 0
#else
#define TARGET_CPU_ARM64 0
#define TARGET_CPU_X86_64 1
#endif
#define TARGET_RT_LITTLE_ENDIAN 1
#define TARGET_RT_BIG_ENDIAN 0
#define TARGET_RT_64_BIT 1

#endif
