#include "service/command_executor.h"
