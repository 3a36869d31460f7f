"""设置: the working-day arrangement (放假调休安排), substitutes, a plan's reminder rules, mail frequency."""
