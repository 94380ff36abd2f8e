package io.vidkv.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A page allocated from native memory by a pool, or pages returned to it by a closing sequence. */
@Name("io.vidkv.Page")
@Label("Page")
@Category({"vidkv", "Cache"})
@Description("Pages allocated from native memory or returned to the pool")
@StackTrace(false)
public final class PageEvent extends jdk.jfr.Event {
    @Label("Action")
    @Description("allocated or released")
    public String action;
    @Label("Pages")
    public int pages;
    @Label("Page Size")
    @DataAmount
    public long pageBytes;
    @Label("Pages In Use")
    public int inUse;
}
