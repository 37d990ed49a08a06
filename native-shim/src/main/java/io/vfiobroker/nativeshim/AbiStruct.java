package io.vfiobroker.nativeshim;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.util.List;

/** A kernel struct mirrored field by field; a test compares its layout with the C compiler's. */
public abstract class AbiStruct extends Structure {
    protected AbiStruct() {
        super();
    }

    protected AbiStruct(Pointer memory) {
        super(memory);
    }

    /** Byte offset of a field, as JNA lays it out. */
    public final int offsetOf(String field) {
        return fieldOffset(field);
    }

    /** Field names in kernel order. */
    public final List<String> fieldNames() {
        return getFieldOrder();
    }

    /** Trailing flexible array members ({@code __u8 data[]}) that the mirror leaves out; they start at sizeof. */
    public List<String> flexibleArrays() {
        return List.of();
    }
}
