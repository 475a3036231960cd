#pragma once

#include "oddjobs/jobstore.h"
#include "oddjobs/runner.h"

// Built-in job types, so a newcomer sees jobs start, succeed, fail, retry and fail for good:
//   oddjobs.sleep {"seconds": n}    sleeps (wakes early when cancelled or timed out)
//   oddjobs.echo  any JSON           succeeds with its contents as the result
//   oddjobs.fail  {"message": text}  fails with that message
void addDemoHandlers(OddJobs::HandlerRegistry &registry);

// A handful of jobs of each demo type, including ones that retry and then fail for good.
OddJobs::Result<int> enqueueDemoJobs(OddJobs::JobStore &store);
