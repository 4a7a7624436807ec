"""Running a Beam CombineFn by hand, its input split into parts, the way runners split and merge it."""


def combine_in_parts(fn, items, parts):
    """`fn`'s output over `items` dealt round-robin into `parts` accumulators, then merged."""
    accumulators = []
    for part in range(parts):
        accumulator = fn.create_accumulator()
        for item in items[part::parts]:
            accumulator = fn.add_input(accumulator, item)
        accumulators.append(accumulator)
    return fn.extract_output(fn.merge_accumulators(accumulators))
