// Dawn's notices on stderr. When it enumerates a Vulkan adapter whose driver reports more dynamic
// uniform or storage buffers per pipeline layout than Dawn's fixed maximum (16) - lavapipe, RADV and
// NVIDIA report 500000 or more - Dawn clamps the limit and prints two "Warning: ... artificially
// reduced" lines with fprintf straight to the process's stderr (Limits.cpp, NormalizeLimits). That
// happens in requestAdapter, before any limit is requested; no toggle or device option turns it off,
// and Node cannot redirect file descriptor 2 of its own process. So whoever reads a Dawn process's
// stderr drops exactly these lines (Hearth uses no dynamic offsets: the clamp changes nothing for it).

const NOTICE = /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

/** Whether `line` (without its newline) is one of Dawn's limit-clamping notices. */
export function isDawnNotice(line: string): boolean {
  return NOTICE.test(line);
}
