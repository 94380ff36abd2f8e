package io.vidkv.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * A page allocated from native memory by a pool, pages returned to it by a closing sequence, or
 * pages a sequence evicted under {@code CapacityPolicy.OnFull.EVICT_OLDEST}.
 */
@Name("io.vidkv.Page")
@Label("Page")
@Category({"vidkv", "Cache"})
@Description("Pages allocated from native memory or returned to the pool")
@StackTrace(false)
public final class PageEvent extends jdk.jfr.Event {
    @Label("Action")
    @Description("allocated, released or evicted")
    public String action;
    @Label("Pages")
    public int pages;
    @Label("Page Size")
    @DataAmount
    public long pageBytes;
    @Label("Pages In Use")
    public int inUse;

    /** An eviction; gated so a streaming sequence's steady-state append creates no event object. */
    public static void recordEviction(int pages, long pageBytes, int inUse) {
        if (!JfrGate.page) {
            return;
        }
        PageEvent ev = new PageEvent();
        if (ev.shouldCommit()) {
            ev.action = "evicted";
            ev.pages = pages;
            ev.pageBytes = pageBytes;
            ev.inUse = inUse;
            ev.commit();
        }
    }
}
